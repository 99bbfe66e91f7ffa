"""Who is calling: the single seam between credentials and the resource code.

Resource views are wrapped by `authenticate(*scopes)`; inside them `current_user()` is the
caller. Until a request carries a credential, the caller is the shared demo user.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

import sqlalchemy as sa
from flask import g
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import DEMO_USER_EMAIL, User

F = TypeVar("F", bound=Callable)

SCOPE_READ = "todos:read"
SCOPE_WRITE = "todos:write"
SCOPES = {
    SCOPE_READ: "See your todos",
    SCOPE_WRITE: "Add, change and delete your todos",
}


def current_user() -> User:
    return g.current_user


def demo_user() -> User:
    """The built-in user whose list everyone without credentials shares."""
    user = db.session.scalar(sa.select(User).where(User.email == DEMO_USER_EMAIL))
    if user is not None:
        return user
    try:
        # A savepoint, so losing the race to another worker leaves this transaction usable.
        with db.session.begin_nested():
            user = User(email=DEMO_USER_EMAIL, is_demo=True)
            db.session.add(user)
    except IntegrityError:
        user = db.session.scalar(sa.select(User).where(User.email == DEMO_USER_EMAIL))
    return user


def authenticate(*scopes: str) -> Callable[[F], F]:
    """Resolve the caller before the view runs (and before its arguments are parsed)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.current_user = demo_user()
            return view(*args, **kwargs)

        wrapper._required_scopes = scopes  # read by the spec builder
        return wrapper  # type: ignore[return-value]

    return decorator
