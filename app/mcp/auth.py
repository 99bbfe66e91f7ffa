"""Who may call /mcp: the resource-server side of OAuth for the MCP endpoint.

The credential is checked with the API's own machinery (app/auth.py: the token's digest, expiry,
revocation and user, in one query); what differs is which credentials count here and how a
refusal is worded. An MCP client finds the authorization server from the 401's
`resource_metadata` (RFC 9728), so every refusal names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError
from flask import current_app
from flask_smorest import abort

from app.auth import REALM, AccessTokenValidator, OtherResourceError, demo_user
from app.models import User
from app.oauth.resources import MCP_PATH, mcp_resource
from app.operations import all_scopes

METADATA_PATH = "/.well-known/oauth-protected-resource"
# Where the view leaves the caller for the tools: a2wsgi hands the WSGI environ to the ASGI
# app as scope["wsgi_environ"].
CALLER_KEY = "todo_action.mcp.caller"


@dataclass(frozen=True)
class Caller:
    """The user a call to /mcp acts for, and the scopes it may use (None: every scope, as for
    the demo user in `none` mode)."""

    user: User
    scopes: frozenset[str] | None

    def lacks(self, scopes: Iterable[str]) -> list[str]:
        if self.scopes is None:
            return []
        return [scope for scope in scopes if scope not in self.scopes]


def resource_url() -> str:
    """This server's MCP endpoint as an OAuth protected resource (RFC 9728 `resource`), in the
    form the tokens for it are bound to (RFC 8707)."""
    return mcp_resource()


def metadata_url() -> str:
    return current_app.config["PUBLIC_URL"] + METADATA_PATH + MCP_PATH


class McpTokenValidator(AccessTokenValidator):
    """Access tokens bound to the MCP endpoint, and only those: a token of a GPT action's
    sign-in (bound to no resource) is refused here, as an MCP token is refused by the API."""

    def resource(self) -> str | None:
        return mcp_resource()


# Its only validator is for access tokens: an API key, made for one GPT's action and pasted into
# its editor, is no credential here, whatever form it is sent in.
require_mcp_token = ResourceProtector()
require_mcp_token.register_token_validator(McpTokenValidator(realm=REALM))


def challenge(scopes: Iterable[str], error: str | None = None, description: str = "") -> str:
    """A WWW-Authenticate value that tells an MCP client where to sign in, and for what."""
    params = []
    if error:
        params.append(f'error="{error}"')
    if error and description:
        params.append(f'error_description="{description}"')
    params.append(f'resource_metadata="{metadata_url()}"')
    params.append(f'scope="{" ".join(scopes)}"')
    return "Bearer " + ", ".join(params)


def authenticate() -> Caller:
    """The caller of this request, or a 401 that points an MCP client to the sign-in.

    As on the REST API, ACTION_AUTH=none lets a request without credentials act as the demo
    user, and a request with one is checked in every mode.
    """
    scopes = list(all_scopes())
    try:
        credential = require_mcp_token.acquire_token(None)
    except MissingAuthorizationError:
        if current_app.config["ACTION_AUTH"] == "none":
            return Caller(demo_user(), None)
        _refuse(scopes, None, "This endpoint needs an OAuth access token from this server.")
    except OtherResourceError:
        _refuse(
            scopes,
            "invalid_token",
            "This access token is not for this MCP server; sign in again for it.",
        )
    except OAuth2Error:
        _refuse(
            scopes,
            "invalid_token",
            "The credential is invalid, expired or revoked; API keys are not accepted here.",
        )
    return Caller(current_token.user, frozenset(credential.get_scope().split()))


def _refuse(scopes: list[str], error: str | None, message: str) -> None:
    abort(401, message=message, headers={"WWW-Authenticate": challenge(scopes, error, message)})
