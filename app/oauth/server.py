"""The authorization server: one Authlib server, grants registered once at import."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import rfc9207
from authlib.oauth2.rfc6749 import InvalidGrantError
from flask import Flask
from sqlalchemy.exc import IntegrityError

from app.audience import issuer
from app.extensions import db
from app.models import AccessToken, OAuthClient, OAuthGrant, RefreshToken, utcnow
from app.models.oauth import CLIENT_ID_MAX
from app.oauth.client_metadata import is_client_id_url
from app.oauth.grants import (
    AuthorizationCodeGrant,
    RefreshTokenGrant,
    RevocationEndpoint,
    S256CodeChallenge,
)
from app.oauth.registration import ClientRegistrationEndpoint, metadata_client
from app.oauth.resources import ResourceIndicator
from app.resources import all_scopes
from app.secrets_util import digest, new_secret

ACCESS_TOKEN_PREFIX = "tda_"
REFRESH_TOKEN_PREFIX = "tdr_"
# About an hour, set explicitly: Authlib's default for the code grant is ten days.
ACCESS_TOKEN_LIFETIME = 3600


# Built once: the token endpoint runs it on every call.
_CLIENT_BY_ID = sa.select(OAuthClient).where(OAuthClient.client_id == sa.bindparam("client_id"))


def known_client(client_id: str) -> OAuthClient | None:
    """The client this server has with that id, without fetching a metadata document."""
    # PostgreSQL refuses NUL in a string parameter, so junk must not reach the query.
    if not client_id or len(client_id) > CLIENT_ID_MAX or not client_id.isprintable():
        return None
    return db.session.scalar(_CLIENT_BY_ID, {"client_id": client_id})


def query_client(client_id: str) -> OAuthClient | None:
    if is_client_id_url(client_id or "") and len(client_id) <= CLIENT_ID_MAX:
        return metadata_client(client_id)
    return known_client(client_id)


def save_token(token: dict, request) -> None:
    try:
        _store_token(token, request)
    except IntegrityError:
        # What the token hangs on (its code, grant, client or user) was deleted while it was
        # being issued: the app was disconnected, or the account or client deleted, meanwhile.
        # No sign-in may come of that, and the answer is OAuth's, not the API's 409.
        db.session.rollback()
        raise InvalidGrantError() from None


def _store_token(token: dict, request) -> None:
    # Core statements in the session's transaction: the ORM's unit of work cost more than the
    # statements themselves on the token endpoint's every call.
    now = utcnow()
    if request.payload.grant_type == "refresh_token":
        grant_id = request.refresh_token.grant_pk
        db.session.execute(_UPDATE_GRANT, {"grant_id": grant_id, "last_refreshed_at": now})
    else:
        grant_id = db.session.scalar(
            _INSERT_GRANT,
            {
                "client_pk": request.client.id,
                "user_id": request.user.id,
                "code_id": request.authorization_code.id,
                "scope": token.get("scope", ""),
                "resource": request.authorization_code.resource,
                "created_at": now,
            },
        )
    if "refresh_token" in token:
        db.session.execute(
            _INSERT_REFRESH_TOKEN,
            {"grant_pk": grant_id, "digest": digest(token["refresh_token"]), "issued_at": now},
        )
    elif request.payload.grant_type == "refresh_token":
        # Confidential clients keep their refresh token; say so by sending it back.
        token["refresh_token"] = request.form["refresh_token"]
    db.session.execute(
        _INSERT_ACCESS_TOKEN,
        {
            "grant_pk": grant_id,
            "digest": digest(token["access_token"]),
            "scope": token.get("scope", ""),
            "issued_at": now,
            "expires_at": now + timedelta(seconds=int(token["expires_in"])),
        },
    )
    # Not committed here: the token endpoint commits once its answer is made (routes.py).


# Built once; the columns an update sets are the keys of its parameters.
_grants = OAuthGrant.__table__
_UPDATE_GRANT = sa.update(_grants).where(_grants.c.id == sa.bindparam("grant_id"))
_INSERT_GRANT = sa.insert(_grants).returning(_grants.c.id)
_INSERT_REFRESH_TOKEN = sa.insert(RefreshToken.__table__)
_INSERT_ACCESS_TOKEN = sa.insert(AccessToken.__table__)


class IssuerParameter(rfc9207.IssuerParameter):
    def get_issuer(self) -> str:
        return issuer()


authorization = AuthorizationServer()
authorization.register_grant(
    AuthorizationCodeGrant, [S256CodeChallenge(required=True), ResourceIndicator()]
)
authorization.register_grant(RefreshTokenGrant, [ResourceIndicator()])
authorization.register_endpoint(RevocationEndpoint)
authorization.register_endpoint(ClientRegistrationEndpoint)
# Adds `iss` to the redirects create_authorization_response makes; the authorize view adds it
# to the error redirects it makes itself.
issuer_parameter = IssuerParameter()
authorization.register_extension(issuer_parameter)


def new_access_token(*args, **kwargs) -> str:
    return new_secret(ACCESS_TOKEN_PREFIX)


def new_refresh_token(*args, **kwargs) -> str:
    return new_secret(REFRESH_TOKEN_PREFIX)


def init_app(app: Flask) -> None:
    # Authlib reads its settings from the app's config; none of them is the operator's to set.
    app.config.update(
        OAUTH2_SCOPES_SUPPORTED=list(all_scopes()),
        OAUTH2_TOKEN_EXPIRES_IN={
            "authorization_code": ACCESS_TOKEN_LIFETIME,
            "refresh_token": ACCESS_TOKEN_LIFETIME,
        },
        OAUTH2_ACCESS_TOKEN_GENERATOR="app.oauth.server.new_access_token",
        OAUTH2_REFRESH_TOKEN_GENERATOR="app.oauth.server.new_refresh_token",
    )
    authorization.init_app(app, query_client=query_client, save_token=save_token)
