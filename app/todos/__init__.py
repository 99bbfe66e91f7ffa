"""The todo resource: the caller's TODO list, as GPT actions (and any other view of the
declarations in app/operations.py)."""

from app.todos.operations import todos

__all__ = ["todos"]
