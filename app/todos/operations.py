"""The todo operations, each declared once on the function that does its work.

Docstrings are the spec's summaries and descriptions, read by the model: they say what an
operation does, never when to use it. A work function never commits: the runner does, once the
answer is built (app/operations.py).
"""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa
from marshmallow import fields

from app.extensions import casefolded, db
from app.models import ID_MAX, User
from app.operations import NotFound, Resource, Widget
from app.paging import Page
from app.todos.models import Todo
from app.todos.schemas import (
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

# The list an MCP Apps host (ChatGPT, Claude, ...) shows for list_todos: people tick, add,
# rename and delete todos in it, each a tool call through the host.
TODO_LIST = Widget(
    "todo-list",
    version=1,
    template="widgets/todo-list.html",
    description="The user's todos as a list they can tick, add to, rename and delete from.",
    invoking="Fetching your todos…",
    invoked="Here are your todos",
)

# A larger id names no todo, and is never sent to the database (see ID_MAX): the spec shows the
# bounds, and an id past them is answered 404, as any other id that names no todo.
TODO_ID = fields.Integer(
    required=True,
    strict=True,
    metadata={"description": "The todo's id.", "minimum": 0, "maximum": ID_MAX},
)
# No max= in the converter: an id past it would fail routing for one rule and have werkzeug
# answer 405 for the others on the same path; the operation answers 404 instead.
ONE_TODO = "/todos/<int:todo_id>"
NOT_FOUND = {404: "No todo with that id"}

# What a page shows of each todo, read as columns rather than as Todo objects.
_LISTED = (Todo.id, Todo.title, Todo.notes, Todo.done, Todo.due, Todo.created_at, Todo.updated_at)
# Ids, flags, dates and key names of one todo, with room to spare.
_TODO_FIXED_CHARS = 300
_LIKE_SPECIAL = re.compile(r"[/%_]")


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
    paged=True,
    widget=TODO_LIST,
)
def list_todos(
    caller: User,
    *,
    page: Page,
    status: str = "open",
    q: str | None = None,
    due_before: date | None = None,
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
    rows, next_cursor = page.rows(query, key=Todo.id, chars=worst_case_chars)
    return {"todos": rows, "next_cursor": next_cursor}


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
    return todo


@todos.operation(
    "GET",
    ONE_TODO,
    operation_id="getTodo",
    consequential=False,
    scopes=[READ],
    path_fields={"todo_id": TODO_ID},
    response=TodoSchema(),
    errors=NOT_FOUND,
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
    path_fields={"todo_id": TODO_ID},
    arguments=TodoUpdateSchema(),
    response=TodoSchema(),
    errors=NOT_FOUND,
)
def update_todo(caller: User, todo_id: int, **changes) -> Todo:
    """Change a todo

    Changes the given fields of one of the user's todos (title, notes, done, due) and returns
    the todo. Set done to true to complete it.
    """
    todo = _owned(caller, todo_id)
    for name, value in changes.items():
        setattr(todo, name, value)
    return todo


@todos.operation(
    "DELETE",
    ONE_TODO,
    operation_id="deleteTodo",
    consequential=True,
    scopes=[WRITE],
    path_fields={"todo_id": TODO_ID},
    status=204,
    errors=NOT_FOUND,
)
def delete_todo(caller: User, todo_id: int) -> None:
    """Delete a todo

    Deletes one of the user's todos for good.
    """
    db.session.delete(_owned(caller, todo_id))


def _owned(caller: User, todo_id: int) -> Todo:
    """One of the caller's todos; another owner's is indistinguishable from none at all."""
    todo = None
    if 0 <= todo_id <= ID_MAX:
        todo = db.session.scalar(
            sa.select(Todo).where(Todo.id == todo_id, Todo.owner_id == caller.id)
        )
    if todo is None:
        raise NotFound(f"No todo with id {todo_id}.")
    return todo


def worst_case_chars(todo: sa.RowMapping) -> int:
    # JSON escaping at most doubles a character (\n, \", \\), and an astral character counts
    # twice for a UTF-16 counter; nothing else in the row grows.
    return _TODO_FIXED_CHARS + 2 * (len(todo["title"]) + len(todo["notes"]))
