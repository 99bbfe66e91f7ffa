"""Finding an account by its email address: for the pages and commands of every package.

The account pages (app/accounts), the keys and the admin all look people up this way; the
built-in demo user (app/models/user.py) is never found by address.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import User


class UnknownUser(LookupError):
    """No account has that email address; str() says so, naming the address."""


def find_user(email: str) -> User | None:
    email = (email or "").strip().lower()
    if not email:
        return None
    return db.session.scalar(sa.select(User).where(User.email == email, User.is_demo.is_(False)))


def get_user(email: str) -> User:
    user = find_user(email)
    if user is None:
        raise UnknownUser(f"No account with email {(email or '').strip().lower()}")
    return user
