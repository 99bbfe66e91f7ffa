"""Driving the account pages as a browser does: CSRF tokens, Referer, log-in."""

from __future__ import annotations

import re
from functools import cache

from flask.testing import FlaskClient

from app.accounts.passwords import hash_password
from app.extensions import db
from app.keys.service import create_key
from app.models import User

PASSWORD = "correct horse battery"
_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def browser(client: FlaskClient) -> FlaskClient:
    # The test client speaks https (PUBLIC_URL is https), and Flask-WTF then insists on a
    # same-origin Referer, as a browser sends it.
    config = client.application.config
    host = config.get("SERVER_NAME") or "localhost"
    client.environ_base["HTTP_REFERER"] = f"{config['PREFERRED_URL_SCHEME']}://{host}/"
    return client


def csrf_token(client: FlaskClient, page: str = "/login") -> str:
    html = client.get(page).get_data(as_text=True)
    match = _CSRF_RE.search(html)
    assert match, f"no CSRF token on {page}"
    return match.group(1)


def post_form(
    client: FlaskClient, path: str, data: dict | None = None, *, page: str = "/login", **kwargs
):
    """POST a form with a fresh CSRF token taken from `page`."""
    form = {"csrf_token": csrf_token(client, page), **(data or {})}
    return client.post(path, data=form, **kwargs)


@cache
def _hash(password: str) -> str:
    # Argon2 is slow on purpose; one hash per password serves every test account.
    return hash_password(password)


def make_account(email: str = "ada@example.com", password: str = PASSWORD, **fields) -> User:
    user = User(email=email, password_hash=_hash(password), **fields)
    db.session.add(user)
    db.session.commit()
    return user


def make_key(user: User, scopes=("todos:read", "todos:write"), name: str = "GPT", days=None):
    key, raw = create_key(user, name, scopes, days)
    return key.id, raw


def log_in(client: FlaskClient, email: str = "ada@example.com", password: str = PASSWORD):
    browser(client)
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response
