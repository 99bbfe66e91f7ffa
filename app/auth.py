"""Who is calling: the one seam between credentials and the resource code.

Operations are wrapped by `protected(scopes)` (app/operations.py does it for every declared
operation); work functions are handed `current_user()`. It is Authlib's resource protector
with one validator per credential kind:

- an OAuth access token: `Authorization: Bearer <token>`;
- an API key, in every form the GPT editor can send one: `Authorization: Bearer <key>`,
  `<API_KEY_HEADER>: <key>` (the editor's "Custom" type; default X-API-Key), or
  `Authorization: Basic <value>` where value is the key itself or base64 of `key`, `key:` or
  `anything:key` (the editor sends Basic values as pasted).

A credential always acts as its owner, whatever ACTION_AUTH says; ACTION_AUTH only decides
what a request *without* one gets: the shared demo user in `none` mode, 401 otherwise.
Authlib's `current_token` is the validated credential (an AccessToken or an ApiKey).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError
from authlib.oauth2.rfc6750 import BearerTokenValidator, InvalidTokenError
from flask import current_app, request
from flask_smorest import abort
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import (
    API_KEY_PREFIX,
    DEMO_USER_EMAIL,
    AccessToken,
    ApiKey,
    OAuthGrant,
    User,
    utcnow,
)
from app.ratelimit import api_limit, api_limit_off, limiter
from app.secrets_util import digest

F = TypeVar("F", bound=Callable[..., Any])

REALM = "todo-action"
# last_used_at is a hint for the account page, not an audit log: one write a minute at most.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_CREDENTIAL_LENGTH = 512
# Authlib's descriptions, in the API's words.
ERROR_MESSAGES = {
    "missing_authorization": "This API needs credentials: an OAuth token or an API key.",
    "invalid_token": "The credential is invalid, expired or revoked.",
    "insufficient_scope": "The credential lacks the scope this operation needs.",
    "unsupported_token_type": "Send the credential as Bearer, Basic or the API key header.",
}

# Built once: every API call runs one of these, and a statement made per call costs more CPU
# than the database spends on it. Each loads the credential and its user in one query.
_ACCESS_TOKEN = (
    sa.select(AccessToken)
    .options(joinedload(AccessToken.grant).joinedload(OAuthGrant.user))
    .options(joinedload(AccessToken.grant).lazyload(OAuthGrant.client))
    .where(AccessToken.digest == sa.bindparam("digest"))
)
_API_KEY = sa.select(ApiKey).where(ApiKey.digest == sa.bindparam("digest"))
_DEMO_USER = sa.select(User).where(User.email == DEMO_USER_EMAIL)


class OtherResourceError(InvalidTokenError):
    """A token for another of this server's resources (RFC 8707): the API takes only tokens of
    sign-ins that named no resource, the MCP endpoint only tokens bound to it."""

    description = "This access token is for another resource; sign in again for this API."


class AccessTokenValidator(BearerTokenValidator):
    """OAuth access tokens for one resource (RFC 8707): by default the REST API, whose tokens
    come from sign-ins that named none; app/mcp/auth.py makes one for the MCP endpoint."""

    def resource(self) -> str | None:
        return None

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        if len(token_string) > MAX_CREDENTIAL_LENGTH:
            return None
        return db.session.scalar(_ACCESS_TOKEN, {"digest": digest(token_string)})

    def validate_token(self, token: AccessToken | None, scopes, request) -> None:
        if token is not None and token.resource != self.resource():
            raise OtherResourceError(realm=self.realm, extra_attributes=self.extra_attributes)
        super().validate_token(token, scopes, request)


class ApiKeyValidator(BearerTokenValidator):
    """API keys, as Bearer or in the custom header: chosen by the key's prefix or the header
    (see CredentialProtector), not by an Authorization scheme of their own."""

    TOKEN_TYPE = "api-key"

    def authenticate_token(self, token_string: str) -> ApiKey | None:
        return find_api_key(token_string)


class BasicApiKeyValidator(ApiKeyValidator):
    TOKEN_TYPE = "basic"

    def authenticate_token(self, token_string: str) -> ApiKey | None:
        for candidate in basic_candidates(token_string):
            key = find_api_key(candidate)
            if key is not None:
                return key
        return None


def find_api_key(raw: str) -> ApiKey | None:
    raw = raw.strip()
    if not raw.startswith(API_KEY_PREFIX) or len(raw) > MAX_CREDENTIAL_LENGTH:
        return None
    return db.session.scalar(_API_KEY, {"digest": digest(raw)})


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


class CredentialProtector(ResourceProtector):
    def parse_request_authorization(self, request):
        # The custom API key header first: a GPT in "Custom" mode sends only that.
        name = current_app.config["API_KEY_HEADER"]
        value = request.headers.get(name)
        if value is not None and not (name.lower() == "authorization" and " " in value.strip()):
            return self.get_token_validator(ApiKeyValidator.TOKEN_TYPE), value
        validator, token_string = super().parse_request_authorization(request)
        if validator.TOKEN_TYPE == "bearer" and token_string.strip().startswith(API_KEY_PREFIX):
            return self.get_token_validator(ApiKeyValidator.TOKEN_TYPE), token_string
        return validator, token_string

    def raise_error_response(self, error: OAuth2Error, scopes: Iterable[str] = ()):
        # The API's error envelope, keeping Authlib's WWW-Authenticate (flask-smorest's
        # handler would drop it).
        headers = {k: v for k, v in error.get_headers() if k.lower() == "www-authenticate"}
        if error.error == "insufficient_scope" and not headers:
            # Authlib sends no challenge with its 403; RFC 6750 3.1 wants one naming the scope,
            # so a client can tell "sign in again with more scope" from "forbidden".
            params = [f'realm="{REALM}"', 'error="insufficient_scope"']
            params.append(f'error_description="{error.get_error_description()}"')
            if scopes:
                params.append(f'scope="{" ".join(scopes)}"')
            headers["WWW-Authenticate"] = "Bearer " + ", ".join(params)
        if isinstance(error, OtherResourceError):
            message = error.description
        else:
            message = ERROR_MESSAGES.get(error.error, error.description or error.error)
        abort(error.status_code, message=message, headers=headers)


require_credential = CredentialProtector()
# The first validator registered names the scheme of the 401's challenge.
require_credential.register_token_validator(AccessTokenValidator(realm=REALM))
require_credential.register_token_validator(ApiKeyValidator(realm=REALM))
require_credential.register_token_validator(BasicApiKeyValidator(realm=REALM))


def protected(scopes: Iterable[str]) -> Callable[[F], F]:
    """Check the caller's credential for `scopes`, then count the call against its limit.

    In `none` mode, and for an operation that declares no scopes (one that needs no
    credential), a request without a credential goes on as the demo user; one with a
    credential is checked as in any mode.
    """
    scopes = tuple(scopes)
    required = [" ".join(scopes)] if scopes else None

    def decorator(view: F) -> F:
        limited = limiter.shared_limit(api_limit, scope="api", key_func=credential_key)(view)

        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                credential = require_credential.acquire_token(required)
            except MissingAuthorizationError:
                if scopes and current_app.config["ACTION_AUTH"] != "none":
                    # Authlib names the scheme as registered, in lower case.
                    missing = MissingAuthorizationError("Bearer", REALM)
                    require_credential.raise_error_response(missing, scopes)
            except OAuth2Error as error:
                require_credential.raise_error_response(error, scopes)
            else:
                if isinstance(credential, ApiKey):
                    _touch(credential)
            # With the limit off, Flask-Limiter is not consulted at all: even with exempt_when,
            # its bookkeeping was a twentieth of a getTodos call.
            return view(*args, **kwargs) if api_limit_off() else limited(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def current_user() -> User:
    """The caller: the owner of the validated credential, or the demo user without one."""
    if current_token:
        return current_token.user
    return demo_user()


def credential_key() -> str:
    """What the API's rate limit counts against: the API key, the OAuth grant (so a refreshed
    token shares its limit), or the address of a caller without credentials."""
    if isinstance(current_token, ApiKey):  # the proxy reports the class of what it holds
        return f"key:{current_token.id}"
    if current_token:
        return f"grant:{current_token.grant_pk}"
    return f"anon:{request.remote_addr}"


def demo_user() -> User:
    """The built-in user whose list everyone without credentials shares in `none` mode."""
    user = db.session.scalar(_DEMO_USER)
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
    return db.session.scalar(_DEMO_USER)


def _touch(key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        db.session.commit()
