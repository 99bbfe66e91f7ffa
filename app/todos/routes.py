"""The todo actions: the operations a GPT calls.

Docstrings here are the spec's summaries and descriptions, read by the model: they say what an
operation does, never when to use it.
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, request
from flask_smorest import Blueprint, abort

from app.apidoc import action
from app.auth import SCOPE_READ, SCOPE_WRITE, current_user_id
from app.todos import service
from app.todos.cache import list_cache
from app.todos.schemas import (
    TodoCreateSchema,
    TodoListSchema,
    TodoQueryArgsSchema,
    TodoSchema,
    TodoUpdateSchema,
)

blp = Blueprint("todos", __name__, description="The caller's TODO list.")

# No max= in the converter: an id past it would fail routing for one rule and have werkzeug
# answer 405 for the others on the same path; the view answers 404 instead.
TODO_ID = "<int:todo_id>"
TODO_ID_MAX = 2**31 - 1
# Built once: a FastDumpSchema compiles its dump plan when it is made.
LIST_SCHEMA = TodoListSchema()
# Longer query strings are answered but not cached: their keys would take memory the cache's
# byte bound does not count. Real ones (filters and a cursor) are a few hundred bytes.
MAX_CACHED_QUERY = 1024
TODO_ID_PARAM = {
    "in": "path",
    "name": "todo_id",
    "description": "The todo's id.",
    "schema": {"type": "integer", "minimum": 0, "maximum": TODO_ID_MAX},
}


@blp.before_request
def require_json_body():
    # webargs would read a non-JSON body as no body at all and report missing fields.
    if request.method in ("POST", "PATCH", "PUT") and not request.is_json:
        if request.content_length or request.headers.get("Transfer-Encoding") or (request.mimetype):
            abort(415, message="Send the request body as JSON (Content-Type: application/json).")


def _found_or_404(todo_id: int, operation):
    """What `operation(owner_id, todo_id)` returns for one of the caller's todos, or a 404."""
    found = operation(current_user_id(), todo_id) if todo_id <= TODO_ID_MAX else None
    if not found:
        abort(404, message=f"No todo with id {todo_id}.")
    return found


def served_from_list_cache(view):
    """Answer a repeated getTodos from the list cache (app/todos/cache.py), before the query
    string is even parsed: the key holds the raw query string, which always parses to the same
    filters. Only successful answers are kept; a bad query is parsed, and refused, every time.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        query = request.query_string
        if len(query) > MAX_CACHED_QUERY:
            return view(*args, **kwargs)
        cache = list_cache()
        key = (current_user_id(), g.todos_version, query)
        body = cache.get(key)
        if body is not None:
            return current_app.response_class(body, mimetype="application/json")
        response = view(*args, **kwargs)
        if response.status_code == 200:
            cache.put(key, response.get_data())
        return response

    return wrapper


@blp.route("/todos", methods=["GET"])
@action(blp, operation_id="getTodos", consequential=False, scopes=(SCOPE_READ,))
@served_from_list_cache
@blp.arguments(TodoQueryArgsSchema(), location="query", as_kwargs=True)
@blp.response(200, TodoListSchema)
@blp.alt_response(400, schema="Error", description="The cursor is not one this API returned")
def get_todos(**filters):
    """List the user's todos

    Returns the user's todos, oldest first, as raw data. Open todos by default; filter by
    status, text or due date. When next_cursor is not null, pass it as cursor for more.
    """
    try:
        todos, next_cursor = service.list_todos(current_user_id(), **filters)
    except service.BadCursor as error:
        abort(400, message=str(error), errors={"query": {"cursor": [str(error)]}})
    # What @blp.response would send, made here so that served_from_list_cache can keep it.
    data = LIST_SCHEMA.dump({"todos": todos, "next_cursor": next_cursor})
    return current_app.json.response(data)


@blp.route("/todos", methods=["POST"])
@action(blp, operation_id="addTodo", consequential=True, scopes=(SCOPE_WRITE,))
@blp.arguments(TodoCreateSchema())
@blp.response(201, TodoSchema)
def add_todo(data):
    """Add a todo

    Adds a todo to the user's list and returns it with its id.
    """
    return service.add_todo(current_user_id(), data)


@blp.route(f"/todos/{TODO_ID}", methods=["GET"], parameters=[TODO_ID_PARAM])
@action(blp, operation_id="getTodo", consequential=False, scopes=(SCOPE_READ,))
@blp.response(200, TodoSchema)
def get_todo(todo_id: int):
    """Get one todo

    Returns one of the user's todos by id.
    """
    return _found_or_404(todo_id, service.get_todo)


@blp.route(f"/todos/{TODO_ID}", methods=["PATCH"], parameters=[TODO_ID_PARAM])
@action(blp, operation_id="updateTodo", consequential=True, scopes=(SCOPE_WRITE,))
@blp.arguments(TodoUpdateSchema())
@blp.response(200, TodoSchema)
def update_todo(data, todo_id: int):
    """Change a todo

    Changes the given fields of one of the user's todos (title, notes, done, due) and returns
    the todo. Set done to true to complete it.
    """
    return _found_or_404(todo_id, lambda owner, id_: service.update_todo(owner, id_, data))


@blp.route(f"/todos/{TODO_ID}", methods=["DELETE"], parameters=[TODO_ID_PARAM])
@action(blp, operation_id="deleteTodo", consequential=True, scopes=(SCOPE_WRITE,))
@blp.response(204)
def delete_todo(todo_id: int):
    """Delete a todo

    Deletes one of the user's todos for good.
    """
    _found_or_404(todo_id, service.delete_todo)
