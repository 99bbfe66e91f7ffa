"""The todo resource: the caller's TODO list, as GPT actions and MCP tools (and any other
transport over app/operations.py)."""

from app.todos.operations import todos

__all__ = ["todos"]
