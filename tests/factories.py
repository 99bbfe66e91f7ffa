"""Test data, made with the app's own code where it has any. Call these inside an app context.

The one password every test account has, the one GPT id every test client is registered for,
and one builder for each kind of row: users, API keys, OAuth clients and tokens, todos.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache

from flask import current_app

from app.accounts.passwords import hash_password
from app.extensions import db
from app.keys.service import create_key
from app.models import AccessToken, OAuthGrant, User, utcnow
from app.oauth.clients import create_client
from app.oauth.server import ACCESS_TOKEN_LIFETIME, ACCESS_TOKEN_PREFIX
from app.resources import all_scopes
from app.secrets_util import digest, new_secret
from app.todos.models import Todo

PASSWORD = "correct horse battery staple"
GPT_ID = "g-a1b2c3d4e5"


@cache
def _password_hash(password: str, app_env: str) -> str:
    # Argon2 is slow on purpose; one hash per password and cost serves every test account.
    return hash_password(password)


def make_user(email: str = "ada@example.com", password: str | None = PASSWORD, **fields) -> User:
    """An account that can log in with `password` (None: one that has no password)."""
    if password is not None:
        fields["password_hash"] = _password_hash(password, current_app.config["APP_ENV"])
    user = User(email=email, **fields)
    db.session.add(user)
    db.session.commit()
    return user


def make_key(
    user: User,
    scopes: Iterable[str] | None = None,
    name: str = "GPT",
    days: int | None = None,
) -> tuple[int, str]:
    """An API key of `user` with `scopes` (every declared scope by default): (id, the key)."""
    key, raw = create_key(user, name, all_scopes() if scopes is None else scopes, days)
    return key.id, raw


def make_client(name: str = "Todo GPT", **options) -> tuple[str, str | None]:
    """A registered OAuth client for the GPT `GPT_ID`: (client_id, secret, None if public)."""
    options.setdefault("gpt_ids", [GPT_ID])
    client, secret = create_client(name, **options)
    return client.client_id, secret


def make_token(
    user: User, scopes: Iterable[str] | None = None, *, resource: str | None = None
) -> str:
    """An OAuth access token of `user` with `scopes` (every declared scope by default), as if
    the user had signed in through a client of its own, for the REST API or for `resource`
    (app.oauth.resources.mcp_resource() for the MCP endpoint); tests of the sign-in itself go
    through the real pages instead (tests/oauth_helpers.py)."""
    scope = " ".join(all_scopes() if scopes is None else scopes)
    client, _ = create_client(f"Token for {user.email}", scope=scope)
    grant = OAuthGrant(client_pk=client.id, user_id=user.id, scope=scope, resource=resource)
    db.session.add(grant)
    db.session.flush()
    raw = new_secret(ACCESS_TOKEN_PREFIX)
    db.session.add(
        AccessToken(
            grant_pk=grant.id,
            digest=digest(raw),
            scope=scope,
            expires_at=utcnow() + timedelta(seconds=ACCESS_TOKEN_LIFETIME),
        )
    )
    db.session.commit()
    return raw


def make_todo(owner: User, title: str = "Buy milk", *, due: date | None = None, **fields) -> Todo:
    todo = Todo(owner_id=owner.id, title=title, due=due, **fields)
    db.session.add(todo)
    db.session.commit()
    return todo
