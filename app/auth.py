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
from dataclasses import dataclass
from datetime import datetime, timedelta
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

from app.extensions import DirectQuery, db, read_first
from app.models import (
    API_KEY_PREFIX,
    DEMO_USER_EMAIL,
    AccessToken,
    ApiKey,
    OAuthGrant,
    User,
    utcnow,
)
from app.ratelimit import check_api_limit
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
    """The caller, loaded on first use: most operations need only `current_user_id()`."""
    user = g.get("current_user")
    if user is None:
        user = g.current_user = db.session.get(User, g.current_user_id)
    return user


def current_user_id() -> int:
    return g.current_user_id


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
            insert.values(
                email=DEMO_USER_EMAIL, is_demo=True, is_admin=False, created_at=utcnow()
            ).on_conflict_do_nothing()
        )
    return db.session.scalar(query)


@dataclass(frozen=True)
class Credential:
    """What a request needs to know of a presented API key or access token; no ORM objects,
    since this is read on every API call."""

    kind: str  # "key" or "grant"
    id: int  # the API key's id, or the grant's: what rate limits count against
    user_id: int
    scope: str
    expires_at: datetime | None
    revoked: bool
    todos_version: int  # for the getTodos cache (app/todos/cache.py)
    last_used_at: datetime | None = None

    # What Authlib's resource protector asks of a token.
    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked


# Plain column queries: they run on every API call, and ORM entities cost more to build.
_keys, _users = ApiKey.__table__.c, User.__table__.c
_KEY_QUERY = sa.select(
    _keys.id,
    _keys.user_id,
    _keys.scope,
    _keys.expires_at,
    _keys.revoked_at,
    _users.todos_version,
    _keys.last_used_at,
).join_from(ApiKey.__table__, User.__table__, _keys.user_id == _users.id)
_tokens, _grants = AccessToken.__table__.c, OAuthGrant.__table__.c
_TOKEN_QUERY = (
    sa.select(
        _grants.id,
        _grants.user_id,
        _tokens.scope,
        _tokens.expires_at,
        _tokens.revoked_at,
        _grants.revoked_at,
        _users.todos_version,
    )
    .join_from(AccessToken.__table__, OAuthGrant.__table__, _tokens.grant_pk == _grants.id)
    .join(User.__table__, _grants.user_id == _users.id)
    .where(_tokens.digest == sa.bindparam("digest"))
)
_KEY_QUERY = DirectQuery(_KEY_QUERY.where(_keys.digest == sa.bindparam("digest")))
_TOKEN_QUERY = DirectQuery(_TOKEN_QUERY)


def find_api_key(raw: str) -> Credential | None:
    if not raw.startswith(API_KEY_PREFIX) or len(raw) > MAX_CREDENTIAL_LENGTH:
        return None
    row = read_first(_KEY_QUERY, {"digest": digest(raw)})
    if row is None:
        return None
    key_id, user_id, scope, expires_at, revoked_at, version, last_used_at = row
    revoked = revoked_at is not None
    return Credential("key", key_id, user_id, scope, expires_at, revoked, version, last_used_at)


def find_credential(raw: str) -> Credential | None:
    """An API key or an OAuth access token, told apart by their prefixes: one indexed
    digest lookup either way."""
    raw = raw.strip()
    if not raw or len(raw) > MAX_CREDENTIAL_LENGTH:
        return None
    if raw.startswith(API_KEY_PREFIX):
        return find_api_key(raw)
    row = read_first(_TOKEN_QUERY, {"digest": digest(raw)})
    if row is None:
        return None
    grant_id, user_id, scope, expires_at, revoked_at, grant_revoked_at, version = row
    revoked = revoked_at is not None or grant_revoked_at is not None
    return Credential("grant", grant_id, user_id, scope, expires_at, revoked, version)


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
    def acquire_token(self, scopes=None, **kwargs):
        # Authlib's version wraps the request in an OAuth2Request first, which builds its URL,
        # form and args; the validators here read only the Authorization header, and this
        # runs on every API call.
        return self.validate_request(scopes, request, **kwargs)

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


def _touch(key: Credential) -> None:
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
                g.current_user_id = g.current_user.id
                g.todos_version = g.current_user.todos_version
                g.credential_id = f"anon:{request.remote_addr}"
            else:
                if credential.kind == "key":
                    _touch(credential)
                g.current_user_id = credential.user_id
                g.todos_version = credential.todos_version
                g.credential_id = f"{credential.kind}:{credential.id}"
            check_api_limit(g.credential_id)
            return view(*args, **kwargs)

        wrapper._required_scopes = scopes
        return wrapper  # type: ignore[return-value]

    return decorator
