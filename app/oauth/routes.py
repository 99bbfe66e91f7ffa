"""OAuth endpoints: authorize (log-in, consent), token, revoke, client registration, server
metadata.

A plain Flask blueprint, so none of this appears in the action spec. The token and revocation
endpoints answer in RFC 6749's `{"error", "error_description"}` format, which OAuth clients
(ChatGPT included) parse; the consent page is HTML.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidClientError, InvalidRequestError
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from authlib.oauth2.rfc7591 import InvalidClientMetadataError
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from app.audience import issuer
from app.errors import failed_statement
from app.extensions import db, no_csrf, protect_forms
from app.login_session import session_user
from app.models import Consent, OAuthClient, utcnow
from app.models.oauth import CHATGPT_CALLBACK_RE, METADATA
from app.oauth.client_metadata import display_host, is_client_id_url
from app.oauth.grants import CLIENT_AUTH_METHODS
from app.oauth.registration import check_still_allowed, registration_mode, trusted_for_errors
from app.oauth.resources import requested_resource
from app.oauth.server import authorization, issuer_parameter, known_client
from app.ratelimit import token_endpoint_limited
from app.resources import all_scopes
from app.shell import flask_command

# Printable ASCII but space, " and backslash: all a URI may hold (RFC 3986), and all an OAuth
# error description may quote.
URI_CHARACTERS = re.compile(r"[!#-\[\]-~]*\Z")
# Parameters Authlib quotes in its error descriptions, raising ValueError if it cannot.
QUOTED_PARAMETERS = ("redirect_uri", "response_type", "grant_type")

blp = Blueprint("oauth", __name__)
protect_forms(blp)


@blp.app_template_filter("ascii_uri")
def ascii_uri(uri: str) -> str:
    """A URI with its host as display_host writes it, for the pages that list clients."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return ascii(uri)[1:-1]
    if not parts.netloc:
        return uri
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + display_host(uri)
    return ascii(parts._replace(netloc=netloc).geturl())[1:-1]


@blp.before_request
def _refuse_what_authlib_cannot_answer():
    for name in QUOTED_PARAMETERS:
        if not URI_CHARACTERS.match(request.values.get(name, "")):
            error = InvalidRequestError(f"The {name} has characters it may not contain.")
            if request.endpoint == "oauth.authorize":
                return _rejected_request_page(error)
            return authorization.handle_error_response(request, error)
    if request.endpoint not in ("oauth.issue_token", "oauth.revoke_token"):
        return None
    try:
        # Authlib and the rate-limit key decode Basic credentials as UTF-8, raising otherwise.
        extract_basic_authorization(request.headers)
    except UnicodeDecodeError:
        error = InvalidClientError(description="Client credentials must be UTF-8.")
        error.status_code = 401
        return authorization.handle_error_response(request, error)
    return None


def _rejected_request_page(error: OAuth2Error):
    """The request cannot be answered by redirect: say why, and how the builder fixes it."""
    client_id = request.values.get("client_id", "")
    redirect_uri = request.values.get("redirect_uri", "")
    client = known_client(client_id)
    fix = None
    if (
        client is not None
        and not client.registered_itself  # its callbacks are its own to change
        and URI_CHARACTERS.match(redirect_uri)
        and redirect_uri
        and not client.check_redirect_uri(redirect_uri)
    ):
        match = CHATGPT_CALLBACK_RE.match(redirect_uri)
        fix = (
            flask_command("clients", "add-gpt", client.client_id, match.group(1))
            if match
            else flask_command("clients", "add-redirect", client.client_id, redirect_uri)
        )
    return (
        render_template(
            "oauth/error.html",
            error=error,
            client=client,
            client_id=client_id,
            # A metadata document's URL names no client here until the document is used; the
            # error says why it could not be.
            unknown_client=client is None and client_id and not is_client_id_url(client_id),
            redirect_uri=redirect_uri,
            fix=fix,
        ),
        400,
    )


def _refused(error: OAuth2Error):
    """An authorization request refused: back to the client once its redirect URI is known,
    and trusted (registration.trusted_for_errors), carrying `iss` as every authorization
    response does (RFC 9207); else a page."""
    client = known_client(request.values.get("client_id", ""))
    if not error.redirect_uri or not trusted_for_errors(client, error.redirect_uri):
        return _rejected_request_page(error)
    response = authorization.handle_error_response(request, error)
    issuer_parameter.add_issuer_parameter(authorization, response)
    return response


def _scope_descriptions(scope: str) -> list[tuple[str, str]]:
    scopes = all_scopes()
    return [(s, scopes.get(s, s)) for s in scope_to_list(scope) or []]


@blp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    user = session_user()
    try:
        # Validated before anyone is asked to log in: a bad client or redirect URI is shown now.
        grant = authorization.get_consent_grant(end_user=user)
        redirect_uri = grant.request.payload.redirect_uri or grant.client.get_default_redirect_uri()
        check_still_allowed(grant.client, redirect_uri)
    except OAuth2Error as error:
        return _refused(error)
    if user is None:
        return redirect(url_for("accounts.login", next=request.full_path))

    client: OAuthClient = grant.client
    scope = client.get_allowed_scope(grant.request.payload.scope)
    # A consent is for one resource: allowing a GPT to use the API does not let the same
    # client into /mcp without asking, nor the other way round.
    resource = requested_resource(grant.request) or ""
    consent = db.session.scalar(
        sa.select(Consent).where(
            Consent.user_id == user.id,
            Consent.client_pk == client.id,
            Consent.resource == resource,
        )
    )

    if request.method == "GET":
        if consent is not None and consent.covers(scope):
            return _allowed(user, grant)
        return render_template(
            "oauth/consent.html",
            client=client,
            user=user,
            scopes=_scope_descriptions(scope),
            any_chatgpt=client.any_chatgpt,
            return_host=display_host(redirect_uri) if redirect_uri else None,
            document_host=display_host(client.client_id) if client.origin == METADATA else None,
        )

    if request.form.get("decision") != "allow":
        return authorization.create_authorization_response(grant_user=None, grant=grant)
    if consent is None:
        db.session.add(
            Consent(user_id=user.id, client_pk=client.id, scope=scope, resource=resource)
        )
    elif not consent.covers(scope):
        consent.scope = " ".join(sorted(set(consent.scope.split()) | set(scope.split())))
    db.session.commit()
    return _allowed(user, grant)


def _allowed(user, grant):
    # When a user last let the client in: a self-registered client long unused is deleted.
    grant.client.last_used_at = utcnow()
    db.session.commit()
    return authorization.create_authorization_response(grant_user=user, grant=grant)


@blp.post("/oauth/token")
@no_csrf
@token_endpoint_limited
def issue_token():
    response = authorization.create_token_response()
    if response.status_code == 200:
        # The code's claim, the grant, the tokens and a refresh token's rotation, in one
        # transaction: the tokens answered are the ones kept, and a failure keeps none.
        try:
            db.session.commit()
        except SQLAlchemyError as error:
            raise failed_statement(error, committing=True) from None
    return response


@blp.post("/oauth/revoke")
@no_csrf
def revoke_token():
    return authorization.create_endpoint_response("revocation")


@blp.post("/oauth/register")
@no_csrf
def register_client():
    """Dynamic client registration (RFC 7591), for MCP clients such as ChatGPT's connectors."""
    if registration_mode() == "off":
        error = AccessDeniedError(
            "This server does not register clients; ask its operator for a client ID.",
            status_code=403,
        )
        return authorization.handle_error_response(request, error)
    if not isinstance(request.get_json(silent=True), dict):
        error = InvalidClientMetadataError("The body must be a JSON object of client metadata.")
        return authorization.handle_error_response(request, error)
    return authorization.create_endpoint_response("client_registration")


@blp.get("/.well-known/oauth-authorization-server")
def server_metadata():
    """RFC 8414 metadata, so OAuth tooling can configure itself from the issuer URL."""
    base = current_app.config["PUBLIC_URL"]
    registration = registration_mode() != "off"
    return jsonify(
        issuer=issuer(),
        authorization_endpoint=f"{base}/oauth/authorize",
        token_endpoint=f"{base}/oauth/token",
        revocation_endpoint=f"{base}/oauth/revoke",
        **({"registration_endpoint": f"{base}/oauth/register"} if registration else {}),
        client_id_metadata_document_supported=registration,
        scopes_supported=list(all_scopes()),
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=["authorization_code", "refresh_token"],
        token_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        code_challenge_methods_supported=["S256"],
        authorization_response_iss_parameter_supported=True,
        service_documentation=f"{base}/docs/",
        op_policy_uri=f"{base}/privacy",
    )
