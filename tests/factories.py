"""Small builders for test data."""

from __future__ import annotations

from datetime import date

from app.extensions import db
from app.models import User
from app.todos.models import Todo


def make_user(email: str = "ada@example.com", **fields) -> User:
    user = User(email=email, **fields)
    db.session.add(user)
    db.session.commit()
    return user


def make_todo(owner: User, title: str = "Buy milk", *, due: date | None = None, **fields) -> Todo:
    todo = Todo(owner_id=owner.id, title=title, due=due, **fields)
    db.session.add(todo)
    db.session.commit()
    return todo
