"""The todo operations, each declared once on the function that does its work.

Docstrings are the spec's summaries and descriptions, read by the model: they say what an
operation does, never when to use it.
"""

from __future__ import annotations

import base64
import re
from datetime import date

import sqlalchemy as sa

from app.extensions import casefolded, db
from app.models import ID_MAX, User
from app.operations import Invalid, NotFound, Resource, data_char_budget
from app.todos.models import Todo
from app.todos.schemas import (
    CURSOR_PATTERN,
    TodoCreateSchema,
    TodoListSchema,
    TodoQueryArgsSchema,
    TodoSchema,
    TodoUpdateSchema,
)

READ = "todos:read"
WRITE = "todos:write"

todos = Resource(
    "todos",
    __name__,
    description="The caller's TODO list.",
    scopes={READ: "See your todos", WRITE: "Add, change and delete your todos"},
    stored=(
        "the title, notes, due date and done state of each todo you or a GPT acting for you "
        "create, with when they were created and last changed"
    ),
    model=Todo,
    owner=Todo.owner_id,
    export_schema=TodoSchema(),
)

# Ids, flags, dates and key names of one todo, with room to spare.
_TODO_FIXED_CHARS = 300
# A larger id names no todo, and is never sent to the database (see ID_MAX).
TODO_ID_MAX = ID_MAX
TODO_ID = {
    "in": "path",
    "name": "todo_id",
    "description": "The todo's id.",
    "schema": {"type": "integer", "minimum": 0, "maximum": TODO_ID_MAX},
}
# No max= in the converter: an id past it would fail routing for one rule and have werkzeug
# answer 405 for the others on the same path; the operation answers 404 instead.
ONE_TODO = "/todos/<int:todo_id>"
NOT_FOUND = {404: "No todo with that id"}

# A page is read as the columns the answer shows, one mapping per row, not as Todo objects:
# building 50 ORM instances and dumping them by attribute was a quarter of a getTodos call's
# CPU (docs/performance.md). The dump is the same either way.
_LISTED = (Todo.id, Todo.title, Todo.notes, Todo.done, Todo.due, Todo.created_at, Todo.updated_at)
_LIKE_SPECIAL = re.compile(r"[/%_]")
_CURSOR = re.compile(CURSOR_PATTERN)
# Built once, with the caller's id bound per call: the statement a call would otherwise
# build costs more CPU than the database spends on it.
_OWNED = sa.select(Todo).where(
    Todo.id == sa.bindparam("id"), Todo.owner_id == sa.bindparam("owner")
)


@todos.operation(
    "GET",
    "/todos",
    operation_id="getTodos",
    consequential=False,
    scopes=[READ],
    arguments=TodoQueryArgsSchema(),
    location="query",
    response=TodoListSchema(),
    errors={400: "The cursor is not one this API returned"},
)
def list_todos(
    caller: User,
    *,
    status: str = "open",
    q: str | None = None,
    due_before: date | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict:
    """List the user's todos

    Returns the user's todos, oldest first, as raw data. Open todos by default; filter by
    status, text or due date. When next_cursor is not null, pass it as cursor for more.
    """
    query = sa.select(*_LISTED).where(Todo.owner_id == caller.id)
    if status != "all":
        query = query.where(Todo.done == (status == "done"))
    if q:
        # q is literal text: LIKE's wildcards in it are escaped, as autoescape would.
        pattern = casefolded(sa.literal(_LIKE_SPECIAL.sub(r"/\g<0>", q), sa.String))
        query = query.where(
            sa.or_(*(casefolded(c).contains(pattern, escape="/") for c in (Todo.title, Todo.notes)))
        )
    if due_before is not None:
        query = query.where(Todo.due < due_before)
    if cursor is not None:
        query = query.where(Todo.id > decode_cursor(cursor))
    # One more than asked, to know whether a next page exists without counting.
    rows = db.session.execute(query.order_by(Todo.id).limit(limit + 1)).mappings().all()

    # A page stops before its worst-case serialised size passes the budget, whatever `limit`
    # asked for.
    budget = data_char_budget()
    page: list[sa.RowMapping] = []
    used = 100  # the envelope and next_cursor
    for todo in rows[:limit]:
        used += worst_case_chars(todo)
        if page and used > budget:
            break
        page.append(todo)
    more = len(page) < len(rows)
    return {"todos": page, "next_cursor": encode_cursor(page[-1]["id"]) if more and page else None}


@todos.operation(
    "POST",
    "/todos",
    operation_id="addTodo",
    consequential=True,
    scopes=[WRITE],
    arguments=TodoCreateSchema(),
    response=TodoSchema(),
    status=201,
    links={
        operation_id: {"todo_id": "$response.body#/id"}
        for operation_id in ("getTodo", "updateTodo", "deleteTodo")
    },
)
def add_todo(caller: User, *, title: str, notes: str = "", due: date | None = None) -> Todo:
    """Add a todo

    Adds a todo to the user's list and returns it with its id.
    """
    todo = Todo(owner_id=caller.id, title=title, notes=notes, due=due)
    db.session.add(todo)
    db.session.commit()
    return todo


@todos.operation(
    "GET",
    ONE_TODO,
    operation_id="getTodo",
    consequential=False,
    scopes=[READ],
    response=TodoSchema(),
    errors=NOT_FOUND,
    parameters=[TODO_ID],
)
def get_todo(caller: User, todo_id: int) -> Todo:
    """Get one todo

    Returns one of the user's todos by id.
    """
    return _owned(caller, todo_id)


@todos.operation(
    "PATCH",
    ONE_TODO,
    operation_id="updateTodo",
    consequential=True,
    scopes=[WRITE],
    arguments=TodoUpdateSchema(),
    response=TodoSchema(),
    errors=NOT_FOUND,
    parameters=[TODO_ID],
)
def update_todo(caller: User, todo_id: int, **changes) -> Todo:
    """Change a todo

    Changes the given fields of one of the user's todos (title, notes, done, due) and returns
    the todo. Set done to true to complete it.
    """
    todo = _owned(caller, todo_id)
    for name, value in changes.items():
        setattr(todo, name, value)
    db.session.commit()
    return todo


@todos.operation(
    "DELETE",
    ONE_TODO,
    operation_id="deleteTodo",
    consequential=True,
    scopes=[WRITE],
    status=204,
    errors=NOT_FOUND,
    parameters=[TODO_ID],
)
def delete_todo(caller: User, todo_id: int) -> None:
    """Delete a todo

    Deletes one of the user's todos for good.
    """
    db.session.delete(_owned(caller, todo_id))
    db.session.commit()


def _owned(caller: User, todo_id: int) -> Todo:
    """One of the caller's todos; another owner's is indistinguishable from none at all."""
    todo = None
    if todo_id <= TODO_ID_MAX:
        todo = db.session.scalar(_OWNED, {"id": todo_id, "owner": caller.id})
    if todo is None:
        raise NotFound(f"No todo with id {todo_id}.")
    return todo


def worst_case_chars(todo: sa.RowMapping) -> int:
    # JSON escaping at most doubles a character (\n, \", \\), and an astral character counts
    # twice for a UTF-16 counter; nothing else in the row grows.
    return _TODO_FIXED_CHARS + 2 * (len(todo["title"]) + len(todo["notes"]))


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    # The pattern the spec publishes, matched whole as JSON Schema does, so that the spec and
    # the server agree on every cursor; what it matches always decodes to "v1:" and digits.
    if _CURSOR.fullmatch(cursor) is None:
        raise Invalid("cursor is not one this API returned; omit it to start over", field="cursor")
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    # No id is larger: past it, the page is simply empty.
    return min(int(raw.removeprefix("v1:")), TODO_ID_MAX)
