"""Who is calling: the single seam between credentials and the resource code.

Resource views are wrapped by `authenticate(*scopes)` (through `app.apidoc.action`); inside
them `current_user()` is the caller. A credential always acts as its owner, whatever
ACTION_AUTH says; ACTION_AUTH only decides what a request *without* one gets: the shared demo
user in `none` mode, 401 otherwise.

Credentials, in every form the GPT editor can send them:
- `Authorization: Bearer <OAuth access token | API key>`;
- `<API_KEY_HEADER>: <API key>` (the editor's "Custom" API key type; default X-API-Key);
- `Authorization: Basic <value>` where value is the API key itself or base64 of `key`,
  `key:` or `anything:key` (the editor sends Basic values as pasted).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import TypeVar

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import ResourceProtector as FlaskResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import current_app, g, request
from flask_smorest import abort
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models import API_KEY_PREFIX, DEMO_USER_EMAIL, AccessToken, ApiKey, User, utcnow
from app.secrets_util import digest

F = TypeVar("F", bound=Callable)

SCOPE_READ = "todos:read"
SCOPE_WRITE = "todos:write"
SCOPES = {
    SCOPE_READ: "See your todos",
    SCOPE_WRITE: "Add, change and delete your todos",
}
REALM = "todo-action"
# last_used_at is a hint for the account page, not an audit log: one write a minute at most.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_CREDENTIAL_LENGTH = 512


def current_user() -> User:
    return g.current_user


def demo_user() -> User:
    """The built-in user whose list everyone without credentials shares in `none` mode."""
    query = sa.select(User).where(User.email == DEMO_USER_EMAIL)
    user = db.session.scalar(query)
    if user is not None:
        return user
    # Made once, in a transaction of its own: it is part of the installation, not of the
    # request that happened to need it first, so a failing request does not take it along.
    # ON CONFLICT DO NOTHING settles a race between workers without an error.
    insert = (sqlite_insert if db.engine.dialect.name == "sqlite" else pg_insert)(User)
    with db.engine.begin() as connection:
        connection.execute(
            insert.values(email=DEMO_USER_EMAIL, is_demo=True, is_admin=False,
                          created_at=utcnow()).on_conflict_do_nothing()
        )
    return db.session.scalar(query)


def find_api_key(raw: str) -> ApiKey | None:
    if not raw.startswith(API_KEY_PREFIX) or len(raw) > MAX_CREDENTIAL_LENGTH:
        return None
    return db.session.scalar(sa.select(ApiKey).where(ApiKey.digest == digest(raw)))


def find_credential(raw: str) -> ApiKey | AccessToken | None:
    """An API key or an OAuth access token, told apart by their prefixes."""
    raw = raw.strip()
    if not raw or len(raw) > MAX_CREDENTIAL_LENGTH:
        return None
    if raw.startswith(API_KEY_PREFIX):
        return find_api_key(raw)
    return db.session.scalar(sa.select(AccessToken).where(AccessToken.digest == digest(raw)))


def basic_candidates(value: str) -> list[str]:
    """The API keys a Basic credential may carry (see the module docstring)."""
    value = value.strip()
    if value.startswith(API_KEY_PREFIX):
        return [value]
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return []
    if ":" not in decoded:
        return [decoded]
    username, password = decoded.split(":", 1)
    return [c for c in (password, username) if c.startswith(API_KEY_PREFIX)]


class CredentialValidator(BearerTokenValidator):
    TOKEN_TYPE = "bearer"

    def authenticate_token(self, token_string: str):
        return find_credential(token_string)


class BasicKeyValidator(BearerTokenValidator):
    TOKEN_TYPE = "basic"

    def authenticate_token(self, token_string: str):
        for candidate in basic_candidates(token_string):
            key = find_api_key(candidate)
            if key is not None:
                return key
        return None


class ResourceProtector(FlaskResourceProtector):
    def raise_error_response(self, error, scopes: tuple[str, ...] = ()):
        # Our error envelope, keeping Authlib's WWW-Authenticate (flask-smorest would drop it).
        headers = {k: v for k, v in error.get_headers() if k.lower() == "www-authenticate"}
        if error.error == "insufficient_scope" and not headers:
            # Authlib sends no challenge with its 403; RFC 6750 3.1 wants one naming the scope,
            # so a client can tell "sign in again with more scope" from "forbidden".
            params = [f'realm="{REALM}"', 'error="insufficient_scope"']
            params.append(f'error_description="{error.get_error_description()}"')
            if scopes:
                params.append(f'scope="{" ".join(scopes)}"')
            headers["WWW-Authenticate"] = "Bearer " + ", ".join(params)
        message = {
            "missing_authorization": "This API needs credentials: an OAuth token or an API key.",
            "invalid_token": "The credential is invalid, expired or revoked.",
            "insufficient_scope": "The credential lacks the scope this operation needs.",
            "unsupported_token_type": "Send the credential as Bearer, Basic or the API key header.",
        }.get(error.error, error.description or error.error)
        abort(error.status_code, message=message, headers=headers)


require_credential = ResourceProtector()
require_credential.register_token_validator(CredentialValidator(realm=REALM))
require_credential.register_token_validator(BasicKeyValidator(realm=REALM))


def _custom_header_credential() -> str | None:
    name = current_app.config["API_KEY_HEADER"]
    value = request.headers.get(name)
    if value is None:
        return None
    if name.lower() == "authorization" and " " in value.strip():
        return None  # a scheme-prefixed Authorization header: the protector reads it
    return value.strip()


def _resolve(scopes: tuple[str, ...]):
    """The credential of this request, validated for `scopes`, or None without one."""
    required = [" ".join(scopes)] if scopes else None
    raw = _custom_header_credential()
    if raw is not None:
        validator = require_credential.get_token_validator("bearer")
        key = find_api_key(raw)
        try:
            validator.validate_token(key, required, request)
        except OAuth2Error as error:
            require_credential.raise_error_response(error, scopes)
        return key
    if not request.headers.get("Authorization"):
        return None
    try:
        return require_credential.acquire_token(required)
    except OAuth2Error as error:
        require_credential.raise_error_response(error, scopes)


def _touch(key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        db.session.execute(sa.update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        db.session.commit()


def authenticate(*scopes: str) -> Callable[[F], F]:
    """Resolve the caller before the view runs (and before its arguments are parsed)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args, **kwargs):
            credential = _resolve(scopes)
            if credential is None:
                if current_app.config["ACTION_AUTH"] != "none":
                    require_credential.raise_error_response(
                        MissingAuthorizationError("Bearer", REALM)
                    )
                g.current_user = demo_user()
                g.credential_id = f"anon:{request.remote_addr}"
            elif isinstance(credential, ApiKey):
                _touch(credential)
                g.current_user = credential.user
                g.credential_id = f"key:{credential.id}"
            else:
                g.current_user = credential.user
                g.credential_id = f"grant:{credential.grant_pk}"
            return view(*args, **kwargs)

        wrapper._required_scopes = scopes
        return wrapper  # type: ignore[return-value]

    return decorator
