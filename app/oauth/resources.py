"""Resource indicators (RFC 8707) at the authorization server: which of this server's
resources (app/audience.py) a sign-in is for.

A client names the resource it wants a token for with `resource` on the authorization request
and again on the token request. The resource is bound to the code, then to the grant the code
is exchanged for, and every token of the grant is for it alone. A fragment is refused (RFC 8707
section 2). An empty `resource` counts as none, as an empty `scope` does.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error

from app.audience import canonical_resource, known_resources


class InvalidTargetError(OAuth2Error):
    """RFC 8707 section 2: the resource is unknown, malformed or not the one authorized."""

    error = "invalid_target"
    status_code = 400


def requested_resource(request) -> str | None:
    """The resource an OAuth request asks for, canonical; None if it names none.

    Raises InvalidTargetError for one this server does not have. The client's value is never
    quoted back: an error description may hold only a few ASCII characters.
    """
    values = {value for value in request.payload.datalist.get("resource", []) if value}
    if not values:
        return None
    found = {canonical_resource(value) for value in values}
    if len(found) > 1:
        raise InvalidTargetError("Ask for one resource at a time.")
    (resource,) = found
    if resource not in known_resources():
        raise InvalidTargetError(
            f"Unknown resource. This server has: {' '.join(known_resources())}"
        )
    return resource


def token_resource(token) -> str | None:
    """The resource a credential is for: an access token's grant's, None for an API key or a
    token of a sign-in that named none (a REST API token)."""
    return getattr(token, "resource", None)


class ResourceIndicator:
    """RFC 8707 on the authorization code and refresh token grants, registered as a grant
    extension, the way Authlib's CodeChallenge brings PKCE.

    The authorization request may name a resource; the code keeps it. The token request may
    repeat it, and may not name another: a code or refresh token is good only for the resource
    it was authorized for, and a token request without `resource` gets a token for that one.
    """

    def __call__(self, grant) -> None:
        grant.register_hook(
            "after_validate_authorization_request_payload", self.validate_authorization_request
        )
        grant.register_hook("before_create_token_response", self.validate_token_request)

    def validate_authorization_request(self, grant, result=None) -> None:
        requested_resource(grant.request)

    def validate_token_request(self, grant) -> None:
        asked = requested_resource(grant.request)
        credential = grant.request.authorization_code or grant.request.refresh_token
        if asked is not None and asked != credential.resource:
            raise InvalidTargetError("The resource is not the one this sign-in was authorized for.")
