"""Who is calling: the one seam between credentials and everything they unlock.

Each transport identifies its caller with `identify(audience)` before the runner
(app/operations.py) does anything for it. An audience is one of this server's resources
(app/audience.py), and says which credentials count there:

- `API`, the REST API: an OAuth access token from a sign-in that named no resource (a GPT
  action's), or an API key in every form the GPT editor can send one: `Authorization: Bearer
  <key>`, `<API_KEY_HEADER>: <key>` (the editor's "Custom" type; default X-API-Key), or
  `Authorization: Basic <value>` where value is the key itself or base64 of `key`, `key:` or
  `anything:key` (the editor sends Basic values as pasted);
- `MCP`, the MCP endpoint: only OAuth access tokens bound to it (RFC 8707). An API key, made
  for one GPT's action and pasted into its editor, is no credential there.

A credential always acts as its owner, with the scopes it holds, whatever ACTION_AUTH says.
ACTION_AUTH only decides who a caller *without* one is: the shared demo user, holding every
scope, in `none` mode; otherwise nobody, which only a public operation (one declaring no
scopes) serves. A credential that is present but unusable is refused here, with a challenge
that tells the client how to sign in.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError
from authlib.oauth2.rfc6750 import BearerTokenValidator, InvalidTokenError
from flask import current_app, request
from sqlalchemy.orm import joinedload

from app.audience import MCP_PATH, mcp_resource
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
from app.ratelimit import Allowance, network
from app.refusals import Unauthenticated, Unavailable
from app.secrets_util import digest

log = logging.getLogger(__name__)

METADATA_PATH = "/.well-known/oauth-protected-resource"
# last_used_at is a hint for the account page, not an audit log: one write a minute at most.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_CREDENTIAL_LENGTH = 512

# Built once: every call runs one of these, and a statement made per call costs more CPU than
# the database spends on it. Each loads the credential and its user in one query.
_ACCESS_TOKEN = (
    sa.select(AccessToken)
    .options(joinedload(AccessToken.grant).joinedload(OAuthGrant.user))
    .options(joinedload(AccessToken.grant).lazyload(OAuthGrant.client))
    .where(AccessToken.digest == sa.bindparam("digest"))
)
_API_KEY = sa.select(ApiKey).where(ApiKey.digest == sa.bindparam("digest"))
_DEMO_USER = sa.select(User).where(User.email == DEMO_USER_EMAIL)


@dataclass(frozen=True)
class Caller:
    """Who a request acts for.

    `user` is the credential's owner, the demo user in `none` mode, or None for a caller
    without credentials; `scopes` what it may do (None: everything, as the demo user may);
    `limit_key` what its rate limit counts against: the API key, the OAuth grant (so a
    refreshed token shares its limit), or the address of a caller without credentials.
    """

    user: User | None
    scopes: frozenset[str] | None
    limit_key: str
    audience: Audience
    allowance: Allowance | None = None  # what is left of its rate limit (app/ratelimit.py)

    def lacks(self, scopes: Iterable[str]) -> list[str]:
        if self.scopes is None:
            return []
        return [scope for scope in scopes if scope not in self.scopes]


class OtherResourceError(InvalidTokenError):
    """A token for another of this server's resources (RFC 8707)."""


class AccessTokenValidator(BearerTokenValidator):
    """OAuth access tokens for one resource (None: the REST API)."""

    def __init__(self, resource, **kwargs) -> None:
        super().__init__(**kwargs)
        self.resource = resource

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
    (see ApiProtector), not by an Authorization scheme of their own."""

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


class ApiProtector(ResourceProtector):
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


class Audience:
    """One of this server's resources, as its callers are identified: which credentials count
    and how a refusal tells the client where to sign in."""

    name = "api"
    # Authlib's descriptions, in the API's words.
    MESSAGES = {
        "missing_authorization": "This API needs credentials: an OAuth token or an API key.",
        "invalid_token": "The credential is invalid, expired or revoked.",
        "insufficient_scope": "The credential lacks the scope this operation needs.",
        "unsupported_token_type": "Send the credential as Bearer, Basic or the API key header.",
    }
    OTHER_RESOURCE = "This access token is for another resource; sign in again for this API."

    def __init__(self) -> None:
        self.protector = self.make_protector()

    def make_protector(self) -> ResourceProtector:
        protector = ApiProtector()
        # The first validator registered names the scheme of the 401's challenge.
        protector.register_token_validator(AccessTokenValidator(lambda: None))
        protector.register_token_validator(ApiKeyValidator())
        protector.register_token_validator(BasicApiKeyValidator())
        return protector

    def challenge(self, scopes: Iterable[str], error: str | None = None, description="") -> str:
        """A WWW-Authenticate value (RFC 6750 section 3) for a refusal."""
        # The realm is the project's name (app/config.py).
        params = [f'realm="{current_app.config["APP_NAME"]}"']
        if error:
            params.append(f'error="{error}"')
        if error and description:
            params.append(f'error_description="{description}"')
        if error == "insufficient_scope" and scopes:
            params.append(f'scope="{" ".join(scopes)}"')
        return "Bearer " + ", ".join(params)

    def refusal(self, error: OAuth2Error) -> Unauthenticated:
        if isinstance(error, OtherResourceError):
            message = self.OTHER_RESOURCE
        else:
            message = self.MESSAGES.get(error.error, error.description or error.error)
        return Unauthenticated(message, challenge=self.challenge((), error.error, message))

    def missing(self, scopes: Iterable[str]) -> Unauthenticated:
        """The refusal of a call without credentials to an operation that needs some."""
        return Unauthenticated(
            self.MESSAGES["missing_authorization"], challenge=self.challenge(scopes)
        )


class McpAudience(Audience):
    """The MCP endpoint: an MCP client finds the authorization server from the challenge's
    `resource_metadata` (RFC 9728), so every refusal names it."""

    name = "mcp"
    MESSAGES = {
        "missing_authorization": "This endpoint needs an OAuth access token from this server.",
        "invalid_token": (
            "The credential is invalid, expired or revoked; API keys are not accepted here."
        ),
    }
    OTHER_RESOURCE = "This access token is not for this MCP server; sign in again for it."

    def make_protector(self) -> ResourceProtector:
        protector = ResourceProtector()
        protector.register_token_validator(AccessTokenValidator(mcp_resource))
        return protector

    def challenge(self, scopes: Iterable[str], error: str | None = None, description="") -> str:
        params = []
        if error:
            params.append(f'error="{error}"')
        if error and description:
            params.append(f'error_description="{description}"')
        params.append(f'resource_metadata="{metadata_url()}"')
        params.append(f'scope="{" ".join(scopes)}"')
        return "Bearer " + ", ".join(params)


def metadata_url() -> str:
    """Where the MCP endpoint's protected resource metadata (RFC 9728) is."""
    return current_app.config["PUBLIC_URL"] + METADATA_PATH + MCP_PATH


API = Audience()
MCP = McpAudience()


def identify(audience: Audience) -> Caller:
    """The caller of this request for `audience`; Unauthenticated for a credential that is
    present but unusable there."""
    try:
        credential = audience.protector.acquire_token(None)
    except MissingAuthorizationError:
        if current_app.config["ACTION_AUTH"] == "none":
            return Caller(demo_user(), None, f"anon:{network(request.remote_addr)}", audience)
        return Caller(None, frozenset(), f"anon:{network(request.remote_addr)}", audience)
    except OAuth2Error as error:
        raise audience.refusal(error) from None
    scopes = frozenset(credential.get_scope().split())
    if isinstance(credential, ApiKey):
        _touch(credential)
        return Caller(credential.user, scopes, f"key:{credential.id}", audience)
    return Caller(credential.user, scopes, f"grant:{credential.grant_pk}", audience)


def demo_user() -> User:
    """The built-in user whose list everyone without credentials shares in `none` mode; made
    by migration 0011, as part of the installation."""
    user = db.session.scalar(_DEMO_USER)
    if user is None:
        log.error(
            "ACTION_AUTH=none, and the database has no demo user (%s), which migration 0011 "
            "makes: was it deleted by hand?",
            DEMO_USER_EMAIL,
        )
        raise Unavailable("This service is not ready; try again later.", retry_after=60)
    return user


def _touch(key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        db.session.commit()
