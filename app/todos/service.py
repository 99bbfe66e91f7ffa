"""What the todo actions do, apart from HTTP: listing, paging and changing one owner's todos."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date

import sqlalchemy as sa

from app.extensions import DirectQuery, casefolded, read_all, read_first, write_returning
from app.models import Todo, utcnow

# ChatGPT refuses responses of 100,000 characters or more. A page stops before its worst-case
# serialised size passes this budget, whatever `limit` asked for.
RESPONSE_CHAR_BUDGET = 90_000
# Ids, flags, dates and key names of one todo, with room to spare.
_TODO_FIXED_CHARS = 300


_LIKE_SPECIAL = re.compile(r"[/%_]")


class BadCursor(ValueError):
    pass


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, _, last_id = raw.partition(":")
        if version != "v1" or not last_id.isdigit() or len(last_id) > 18:
            raise ValueError(raw)
        return int(last_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor("cursor is not one this API returned; omit it to start over") from None


# getTodos builds its query from the table, not the model: a Core statement skips the ORM's
# per-execution compile step, and plain dicts cost less than ORM instances or Rows to build
# and to read. _TODO_KEYS are the model's attribute names, in column order.
_TODOS = Todo.__table__
_TODO_KEYS = tuple(attr.key for attr in sa.inspect(Todo).column_attrs)
_TODO_COLUMNS = tuple(attr.columns[0] for attr in sa.inspect(Todo).column_attrs)


_OWNED_TODO = DirectQuery(
    sa.select(*_TODO_COLUMNS).where(
        _TODOS.c.id == sa.bindparam("id"), _TODOS.c.owner_id == sa.bindparam("owner")
    )
)


def worst_case_chars(todo: dict) -> int:
    # JSON escaping at most doubles a character (\n, \", \\), and an astral character counts
    # twice for a UTF-16 counter; nothing else in the row grows.
    return _TODO_FIXED_CHARS + 2 * (len(todo["title"]) + len(todo["notes"]))


def list_todos(
    owner_id: int,
    *,
    status: str = "open",
    q: str | None = None,
    due_before: date | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict], str | None]:
    """A page of the owner's todos, each a dict keyed by the model's attribute names."""
    c = _TODOS.c
    query = sa.select(*_TODO_COLUMNS).where(c.owner_id == owner_id)
    if status != "all":
        query = query.where(c.done == (status == "done"))
    if q:
        # q is literal text: LIKE's wildcards in it are escaped, as autoescape would.
        pattern = casefolded(sa.literal(_LIKE_SPECIAL.sub(r"/\g<0>", q), sa.String))
        query = query.where(
            sa.or_(*(casefolded(col).contains(pattern, escape="/") for col in (c.title, c.notes)))
        )
    if due_before is not None:
        query = query.where(c.due < due_before)
    if cursor:
        query = query.where(c.id > decode_cursor(cursor))
    # One more than asked, to know whether a next page exists without counting.
    # A single statement: read outside a transaction, one round trip on PostgreSQL.
    result = read_all(query.order_by(c.id).limit(limit + 1))
    rows = [dict(zip(_TODO_KEYS, row, strict=True)) for row in result]

    page: list[dict] = []
    used = 100  # the envelope and next_cursor
    for todo in rows[:limit]:
        used += worst_case_chars(todo)
        if page and used > RESPONSE_CHAR_BUDGET:
            break
        page.append(todo)
    more = len(page) < len(rows)
    return page, encode_cursor(page[-1]["id"]) if more and page else None


def get_todo(owner_id: int, todo_id: int) -> dict | None:
    # Another owner's todo is indistinguishable from one that does not exist.
    return _as_todo(read_first(_OWNED_TODO, {"owner": owner_id, "id": todo_id}))


# Each change is one statement, committed on its own, that returns the todo as stored. The
# owner's list version changes with it, in the same transaction, by the triggers of migration
# 0004 (app/todos/cache.py). The statements are built once; the columns an insert or update
# sets are the keys of its parameters.
_INSERT = sa.insert(_TODOS).returning(*_TODO_COLUMNS)
_UPDATE_OWNED = (
    sa.update(_TODOS)
    .where(_TODOS.c.id == sa.bindparam("todo_id"), _TODOS.c.owner_id == sa.bindparam("owner"))
    .returning(*_TODO_COLUMNS)
)
_DELETE_OWNED = (
    sa.delete(_TODOS)
    .where(_TODOS.c.id == sa.bindparam("todo_id"), _TODOS.c.owner_id == sa.bindparam("owner"))
    .returning(_TODOS.c.id)
)


def add_todo(owner_id: int, data: dict) -> dict:
    now = utcnow()
    values = {"notes": "", "done": False, "due": None, **data}
    row = write_returning(
        _INSERT, {**values, "owner_id": owner_id, "created_at": now, "updated_at": now}
    )
    # An INSERT ... RETURNING always returns its row.
    return _as_todo(row)  # type: ignore[return-value]


def update_todo(owner_id: int, todo_id: int, data: dict) -> dict | None:
    """The todo with `data` applied, or None when the owner has no todo of that id."""
    params = {**data, "updated_at": utcnow(), "todo_id": todo_id, "owner": owner_id}
    return _as_todo(write_returning(_UPDATE_OWNED, params))


def delete_todo(owner_id: int, todo_id: int) -> bool:
    """Whether the owner had a todo of that id, now deleted."""
    return write_returning(_DELETE_OWNED, {"todo_id": todo_id, "owner": owner_id}) is not None


def _as_todo(row: sa.Row | None) -> dict | None:
    return None if row is None else dict(zip(_TODO_KEYS, row, strict=True))
