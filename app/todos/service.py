"""What the todo actions do, apart from HTTP: listing, paging and changing one owner's todos."""

from __future__ import annotations

import base64
import binascii
from datetime import date

import sqlalchemy as sa

from app.extensions import db, read_all
from app.models import Todo

# ChatGPT refuses responses of 100,000 characters or more. A page stops before its worst-case
# serialised size passes this budget, whatever `limit` asked for.
RESPONSE_CHAR_BUDGET = 90_000
# Ids, flags, dates and key names of one todo, with room to spare.
_TODO_FIXED_CHARS = 300


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
        query = query.where(
            sa.or_(c.title.icontains(q, autoescape=True), c.notes.icontains(q, autoescape=True))
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


def get_todo(owner_id: int, todo_id: int) -> Todo | None:
    # Another owner's todo is indistinguishable from one that does not exist.
    return db.session.scalar(sa.select(Todo).where(Todo.id == todo_id, Todo.owner_id == owner_id))


def add_todo(owner_id: int, data: dict) -> Todo:
    todo = Todo(owner_id=owner_id, **data)
    db.session.add(todo)
    _commit_keeping_values()
    return todo


def update_todo(todo: Todo, data: dict) -> Todo:
    for field, value in data.items():
        setattr(todo, field, value)
    _commit_keeping_values()
    return todo


def _commit_keeping_values() -> None:
    """Commit without expiring the session's objects. A todo's attributes then hold exactly
    what was written (the app sets every column; the database adds only the id, which the
    insert returns), and expiring them would cost a query (three round trips on PostgreSQL)
    to read the same values back for the response."""
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def delete_todo(todo: Todo) -> None:
    db.session.delete(todo)
    db.session.commit()
