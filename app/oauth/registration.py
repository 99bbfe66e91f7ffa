"""Clients that register themselves: dynamic client registration (RFC 7591) and client ID
metadata documents (CIMD).

An MCP client that has no client ID from the builder gets one by itself, in ChatGPT's order of
preference: it uses the URL of a metadata document it publishes as its client ID (CIMD), when
the server metadata says `client_id_metadata_document_supported`, or else registers at
`/oauth/register` (RFC 7591). Either way the client is public: it has no secret, proves each
code exchange with PKCE (S256), and its name is its own claim, so the consent page shows the
host the user will be sent back to beside it.

Who may register is decided by the redirect URIs, per CLIENT_REGISTRATION:
- `chatgpt` (the default): ChatGPT's connector callbacks only,
  `https://chatgpt.com/connector/oauth/<id>` and `https://chatgpt.com/connector_platform_oauth_redirect`;
  in development, loopback http callbacks too (local MCP clients, the SDK's examples);
- `open`: any https callback, and loopback http (other MCP clients: desktop apps, IDEs);
- `off`: neither kind; clients are created by an admin (`clients create`).

Registrations and document fetches are counted per network in the database (app/attempts.py:
an IPv4 address, or an IPv6 /64), and at most UNUSED_MAX clients no user has allowed yet are
kept, the oldest making room for new ones. A self-registered client that no user has allowed
within a day, or that has had no live sign-in for 30 days, is deleted whenever another client
registers or a new metadata document is first fetched, and by `flask --app app clients prune`.

Errors of an authorization request go back to a self-registered callback only if it is
ChatGPT's (trusted_for_errors), and narrowing CLIENT_REGISTRATION applies to the clients it let
in before (check_still_allowed).
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7591 import (
    ClientMetadataClaims,
    InvalidClientMetadataError,
    InvalidRedirectURIError,
)
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint as BaseRegistrationEndpoint
from flask import current_app, g, has_request_context, request
from sqlalchemy.exc import IntegrityError

from app import attempts
from app.extensions import db
from app.models import OAuthClient, OAuthGrant, utcnow
from app.models.oauth import CREATED, METADATA, REGISTERED
from app.oauth.client_metadata import (
    ClientMetadataError,
    clean_client_name,
    fetch_client_metadata,
    is_redirect_uri,
)
from app.oauth.clients import ClientError, check_redirect_uri, create_client
from app.resources import all_scopes

CHATGPT_CONNECTOR_CALLBACK_RE = re.compile(
    r"^https://chatgpt\.com/(?:connector/oauth/[A-Za-z0-9_-]{1,128}"
    r"|connector_platform_oauth_redirect)\Z"
)
GRANT_TYPES = ["authorization_code", "refresh_token"]
NEVER_USED_FOR = timedelta(days=1)
UNUSED_FOR = timedelta(days=30)
# Self-registered clients no user has allowed yet, at most: past it, the oldest of them make
# room for each new one. Many networks get past the limits per network; this bounds the table
# whatever they do.
UNUSED_MAX = 1000


def registration_mode() -> str:
    return current_app.config["CLIENT_REGISTRATION"]


def _loopback_allowed() -> bool:
    return registration_mode() == "open" or current_app.config["APP_ENV"] != "production"


def redirect_uri_allowed(uri: str) -> bool:
    """Whether a client may register itself with this redirect URI."""
    mode = registration_mode()
    if mode == "off" or not isinstance(uri, str) or not is_redirect_uri(uri):
        # The metadata documents' character rules, for registrations too: no spaces, quotes,
        # line breaks or non-ASCII hosts that would read as another URI.
        return False
    try:
        check_redirect_uri(uri)
        parts = urlsplit(uri)
    except (ClientError, ValueError):
        return False
    if parts.scheme == "http":  # check_redirect_uri lets http through for loopback hosts only
        return _loopback_allowed()
    return mode == "open" or CHATGPT_CONNECTOR_CALLBACK_RE.match(uri) is not None


def _refused_redirect_uris_message() -> str:
    if registration_mode() == "chatgpt":
        allowed = "ChatGPT's connector callbacks"
        if _loopback_allowed():
            allowed += " and loopback http"
        return (
            f"This server registers clients with {allowed} redirect URIs only "
            "(CLIENT_REGISTRATION=chatgpt); ask its operator for a client ID."
        )
    return (
        "Redirect URIs must be https, or http on a loopback address, without a fragment, "
        "in RFC 3986 characters (an internationalised host in its xn-- form)."
    )


def check_redirect_uris(uris: object) -> list[str]:
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise InvalidRedirectURIError("Give redirect_uris: a list of one or more URIs.")
    if len(uris) > 20 or not all(redirect_uri_allowed(uri) for uri in uris):
        raise InvalidRedirectURIError(_refused_redirect_uris_message())
    return uris


def granted_scope(value: object) -> str:
    """The scopes a client asked for that this server has; all of them if it asked for none
    of them (the user still consents to each sign-in's scope)."""
    known = all_scopes()
    asked = value.split() if isinstance(value, str) else []
    return " ".join([s for s in known if s in asked] or known)


class RegistrationClaims(ClientMetadataClaims):
    """RFC 7591 metadata as this server registers it. Values it does not support are replaced
    with the ones it does, as section 3.2.1 allows; the response says which were used."""

    # What is kept, and so what the response repeats; the rest is checked, then dropped.
    REGISTERED_CLAIMS = [
        "redirect_uris",
        "token_endpoint_auth_method",
        "grant_types",
        "response_types",
        "client_name",
        "scope",
    ]

    # RFC 7591 section 2's JSON type of each member; Authlib's checks assume them.
    STRINGS = (
        "token_endpoint_auth_method client_name client_uri logo_uri scope tos_uri policy_uri"
        " jwks_uri software_id software_version"
    ).split()
    STRING_LISTS = ("grant_types", "response_types", "contacts")

    def validate(self, now=None, leeway=0) -> None:
        for name in self.STRINGS:
            if name in self and not isinstance(self[name], str):
                raise InvalidClientMetadataError(f"{name} must be a string.")
        for name in self.STRING_LISTS:
            value = self.get(name, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidClientMetadataError(f"{name} must be a list of strings.")
        if "jwks" in self and not isinstance(self["jwks"], dict):
            raise InvalidClientMetadataError("jwks must be a JSON object.")
        super().validate(now, leeway)

    def validate_redirect_uris(self) -> None:
        self["redirect_uris"] = check_redirect_uris(self.get("redirect_uris"))
        super().validate_redirect_uris()

    def validate_token_endpoint_auth_method(self) -> None:
        # Public clients only: no secret to hand out, keep, or leak; PKCE instead.
        self["token_endpoint_auth_method"] = "none"

    def validate_grant_types(self) -> None:
        # A client that asked for less may still refresh: say so, rather than promise less.
        self["grant_types"] = GRANT_TYPES

    def validate_response_types(self) -> None:
        self.setdefault("response_types", ["code"])

    def validate_client_name(self) -> None:
        # Without a name, its first callback's host is the next best thing to show.
        fallback = urlsplit(self["redirect_uris"][0]).hostname or "Unnamed client"
        self["client_name"] = clean_client_name(self.get("client_name"), fallback)

    def validate_scope(self) -> None:
        self["scope"] = granted_scope(self.get("scope"))


class TooManyRegistrations(OAuth2Error):
    error = "temporarily_unavailable"
    status_code = 429

    def __init__(self, retry_after: int, description: str) -> None:
        super().__init__(description)
        self.retry_after = retry_after

    def get_headers(self):
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


class ClientRegistrationEndpoint(BaseRegistrationEndpoint):
    def __init__(self, server=None) -> None:
        super().__init__(server, claims_classes=[RegistrationClaims])

    def authenticate_token(self, request) -> bool:
        # Open registration (RFC 7591 section 3, no initial access token): the redirect URIs
        # decide who may register (RegistrationClaims), and a limit per address how often.
        return registration_mode() != "off"

    def get_server_metadata(self) -> dict:
        # What Authlib's claims check the request against; the rest is replaced, not refused.
        return {"grant_types_supported": GRANT_TYPES, "response_types_supported": ["code"]}

    def generate_client_info(self, request) -> dict:
        # create_client makes the client ID, and a public client has no secret;
        # generate_client_registration_info puts the ID in the response.
        return {}

    def save_client(self, client_info: dict, client_metadata: dict, request) -> OAuthClient:
        try:
            make_room(attempts.REGISTRATION)
        except attempts.TooManyAttempts as error:
            raise TooManyRegistrations(error.retry_after, str(error)) from None
        client, _ = create_client(
            client_metadata["client_name"],
            redirect_uris=client_metadata["redirect_uris"],
            public=True,
            scope=client_metadata["scope"],
            origin=REGISTERED,
        )
        return client

    def generate_client_registration_info(self, client: OAuthClient, request) -> dict:
        return {
            "client_id": client.client_id,
            "client_id_issued_at": int(client.created_at.timestamp()),
        }


def make_room(action: str) -> None:
    """Before a client registers itself (`action`, an attempts action): count the attempt
    against its address's network, delete unused clients, and, at UNUSED_MAX clients no user
    has allowed yet, the oldest of them: a flood of registrations pushes out older unused ones,
    and never keeps a new client (ChatGPT's, say) from registering.

    Raises attempts.TooManyAttempts."""
    attempts.record(action)
    prune_unused_clients()
    never_allowed = (OAuthClient.origin != CREATED, OAuthClient.last_used_at.is_(None))
    unused = db.session.scalar(
        sa.select(sa.func.count()).select_from(OAuthClient).where(*never_allowed)
    )
    if unused >= UNUSED_MAX:
        oldest = (
            sa.select(OAuthClient.id)
            .where(*never_allowed)
            .order_by(OAuthClient.created_at, OAuthClient.id)
            .limit(unused - UNUSED_MAX + 1)
        )
        # Their codes and consents go with them (ON DELETE CASCADE); none has a grant, which
        # only a user's allowing makes.
        db.session.execute(
            sa.delete(OAuthClient).where(OAuthClient.id.in_(oldest.scalar_subquery()))
        )
        db.session.commit()


def prune_unused_clients() -> int:
    """Delete self-registered clients no one uses (see the module docstring); returns how
    many. Their codes, grants, tokens and consents go with them (ON DELETE CASCADE)."""
    now = utcnow()
    live_grant = (
        sa.select(OAuthGrant.id)
        .where(OAuthGrant.client_pk == OAuthClient.id, OAuthGrant.revoked_at.is_(None))
        .exists()
    )
    deleted = db.session.execute(
        sa.delete(OAuthClient).where(
            OAuthClient.origin != CREATED,
            ~live_grant,
            sa.or_(
                sa.and_(
                    OAuthClient.last_used_at.is_(None),
                    OAuthClient.created_at < now - NEVER_USED_FOR,
                ),
                OAuthClient.last_used_at < now - UNUSED_FOR,
            ),
        )
    ).rowcount
    db.session.commit()
    return deleted


def check_still_allowed(client: OAuthClient, redirect_uri: str | None) -> None:
    """At an authorization request: a client that registered itself may still use its
    callback only while CLIENT_REGISTRATION allows it, so that narrowing the setting applies
    to the clients it let in before. Raises InvalidClientError."""
    if client.registered_itself and not redirect_uri_allowed(redirect_uri or ""):
        raise InvalidClientError(description=_refused_redirect_uris_message())


def trusted_for_errors(client: OAuthClient | None, redirect_uri: str) -> bool:
    """Whether an authorization request's error may be sent back to its redirect URI before
    the user has seen the consent page: not to a callback a stranger registered, which would
    make this server an open redirector (RFC 9700 section 4.11.2); ChatGPT's are trusted."""
    return (
        client is not None
        and not client.registered_itself
        or CHATGPT_CONNECTOR_CALLBACK_RE.match(redirect_uri) is not None
    )


def metadata_client(url: str) -> OAuthClient | None:
    """The client whose client ID is the URL of its metadata document.

    The document is fetched when the client is first seen, and again at an authorization
    request once what was fetched is no longer fresh by its caching headers: that is where its
    name and redirect URIs are used. The token and revocation endpoints take the client as last
    fetched, so a document host that is down does not sign anyone out.

    Raises InvalidClientError, saying why, when the document cannot be used.
    """
    client = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == url))
    if registration_mode() == "off" and (client is None or client.origin == METADATA):
        return None
    authorizing = has_request_context() and request.endpoint == "oauth.authorize"
    if client is not None and (
        client.origin != METADATA
        or not authorizing
        or (client.metadata_fresh_until and client.metadata_fresh_until > utcnow())
        # Authlib looks the client up more than once per request: one fetch serves them all.
        or url in g.get("client_metadata_fetched", ())
    ):
        return client
    try:
        if client is None:
            make_room(attempts.CLIENT_METADATA)
        else:
            attempts.record(attempts.CLIENT_METADATA)
    except attempts.TooManyAttempts as error:
        raise InvalidClientError(description=str(error)) from None
    try:
        document = fetch_client_metadata(
            url,
            trusted_origins=current_app.config["CLIENT_METADATA_TRUSTED_ORIGINS"],
            user_agent=f"{current_app.config['APP_NAME']} (OAuth client metadata)",
        )
    except ClientMetadataError as error:
        raise InvalidClientError(
            description=f"The client's metadata document cannot be used: {error}"
        ) from None
    redirect_uris = list(document.redirect_uris)
    if not all(redirect_uri_allowed(uri) for uri in redirect_uris):
        raise InvalidClientError(description=_refused_redirect_uris_message())
    values = {
        "name": document.client_name,
        "redirect_uris": redirect_uris,
        "gpt_ids": [],
        "scope": granted_scope(document.scope),
        "metadata_fresh_until": document.fresh_until,
    }
    if client is None:
        client = OAuthClient(client_id=url, origin=METADATA, client_secret_digest=None, **values)
        db.session.add(client)
    else:
        for name, value in values.items():
            setattr(client, name, value)
    try:
        db.session.commit()
    except IntegrityError:
        # Another worker saw it first, at the same moment: take theirs.
        db.session.rollback()
        client = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == url))
    if has_request_context():
        g.client_metadata_fetched = {*g.get("client_metadata_fetched", ()), url}
    return client
