"""Registering and changing OAuth clients: shared by the CLI and the admin page."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa

from app.extensions import db
from app.models import AuthorizationCode, OAuthClient
from app.models.oauth import CHATGPT_CALLBACK_RE, CREATED, GPT_ID_RE, METADATA, REGISTERED
from app.oauth.client_metadata import LOOPBACK_HOSTS
from app.resources import all_scopes
from app.secrets_util import digest, new_secret

CLIENT_ID_PREFIX = "tdc_"
CLIENT_SECRET_PREFIX = "tds_"


class ClientError(ValueError):
    """A request to change a client that cannot be met; the message says why."""


def check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.fragment:
        raise ClientError(f"A redirect URI must not have a fragment: {uri}")
    local = parts.hostname in LOOPBACK_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ClientError(f"A redirect URI must be https (http only for localhost): {uri}")
    if not parts.hostname:
        raise ClientError(f"A redirect URI must be absolute: {uri}")
    return uri


def check_gpt_id(gpt_id: str) -> str:
    gpt_id = gpt_id.strip()
    if not GPT_ID_RE.match(gpt_id):
        raise ClientError(
            f"Not a GPT id: {gpt_id!r}. It is the g-... part of the callback URL "
            "https://chatgpt.com/aip/g-.../oauth/callback"
        )
    return gpt_id


def find_client(client_id: str) -> OAuthClient:
    client = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None:
        raise ClientError(f"No client with id {client_id}")
    return client


def list_clients(origin: str | None = None) -> list[OAuthClient]:
    """Every client, or those of one origin (CREATED: the ones an admin made)."""
    query = sa.select(OAuthClient).order_by(OAuthClient.id)
    if origin is not None:
        query = query.where(OAuthClient.origin == origin)
    return list(db.session.scalars(query))


def create_client(
    name: str,
    *,
    redirect_uris: list[str] = (),
    gpt_ids: list[str] = (),
    any_chatgpt: bool = False,
    public: bool = False,
    scope: str | None = None,
    origin: str = CREATED,
) -> tuple[OAuthClient, str | None]:
    """Register a client; returns it with its secret, which is shown this once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ClientError("A client needs a name of 1-100 characters")
    known = all_scopes()
    scopes = (scope or " ".join(known)).split()
    unknown = [s for s in scopes if s not in known]
    if unknown:
        raise ClientError(f"Unknown scopes: {' '.join(unknown)}; known: {' '.join(known)}")
    client = OAuthClient(
        client_id=new_secret(CLIENT_ID_PREFIX, 16),
        name=name,
        redirect_uris=[],
        gpt_ids=[],
        any_chatgpt=any_chatgpt,
        scope=" ".join(scopes),
        origin=origin,
    )
    for uri in redirect_uris:
        _add_redirect(client, uri)
    for gpt_id in gpt_ids:
        _add_gpt(client, gpt_id)
    secret = None if public else new_secret(CLIENT_SECRET_PREFIX)
    client.client_secret_digest = digest(secret) if secret else None
    db.session.add(client)
    db.session.commit()
    return client, secret


def _add_gpt(client: OAuthClient, gpt_id: str) -> str:
    gpt_id = check_gpt_id(gpt_id)
    if gpt_id not in client.gpt_ids:
        client.gpt_ids = [*client.gpt_ids, gpt_id]
    return gpt_id


def _add_redirect(client: OAuthClient, uri: str) -> str:
    uri = uri.strip()
    match = CHATGPT_CALLBACK_RE.match(uri)
    if match:
        # ChatGPT uses either host for the same GPT: allow both by recording the GPT id.
        return _add_gpt(client, match.group(1))
    uri = check_redirect_uri(uri)
    if uri not in client.redirect_uris:
        client.redirect_uris = [*client.redirect_uris, uri]
    return uri


def add_redirect(client: OAuthClient, uri: str) -> str:
    """Allow a redirect URI; a ChatGPT callback URL is recorded as its GPT id. Returns which."""
    added = _add_redirect(client, uri)
    db.session.commit()
    return added


def add_gpt(client: OAuthClient, gpt_id: str) -> str:
    added = _add_gpt(client, gpt_id)
    db.session.commit()
    return added


def remove_redirect(client: OAuthClient, value: str) -> None:
    """Stop allowing a redirect URI or GPT id; a ChatGPT callback URL names its GPT id, as in
    add_redirect."""
    value = value.strip()
    match = CHATGPT_CALLBACK_RE.match(value)
    if match and value not in client.redirect_uris:
        value = match.group(1)
    if value in client.redirect_uris:
        client.redirect_uris = [u for u in client.redirect_uris if u != value]
    elif value in client.gpt_ids:
        client.gpt_ids = [g for g in client.gpt_ids if g != value]
    else:
        raise ClientError(f"{value} is not a redirect URI or GPT id of this client")
    # A code already sent to that callback would still buy tokens for the rest of its life.
    # One issued without a redirect_uri went to the default of the time, which may be the one
    # removed, so it goes too; ChatGPT always names its callback.
    codes = db.session.scalars(
        sa.select(AuthorizationCode).where(
            AuthorizationCode.client_pk == client.id, AuthorizationCode.used_at.is_(None)
        )
    )
    for code in codes:
        if not (code.redirect_uri and client.check_redirect_uri(code.redirect_uri)):
            db.session.delete(code)
    db.session.commit()


def rotate_secret(client: OAuthClient) -> str:
    if client.is_public:
        raise ClientError("A public client has no secret to rotate")
    from app.models import utcnow

    secret = new_secret(CLIENT_SECRET_PREFIX)
    client.client_secret_digest = digest(secret)
    client.secret_rotated_at = utcnow()
    db.session.commit()
    return secret


def delete_client(client: OAuthClient) -> None:
    # Its codes, grants, tokens and consents go with it (ON DELETE CASCADE).
    db.session.delete(client)
    db.session.commit()


ORIGIN_LABELS = {
    CREATED: "created by an admin",
    REGISTERED: "registered itself (dynamic client registration)",
    METADATA: "known by its metadata document (its client ID is the document's URL)",
}


def origin_label(client: OAuthClient) -> str:
    return ORIGIN_LABELS[client.origin]


def describe(client: OAuthClient) -> dict:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "type": "public" if client.is_public else "confidential",
        "origin": client.origin,
        "scope": client.scope,
        "redirect_uris": client.redirect_uris,
        "gpt_ids": client.gpt_ids,
        "any_chatgpt": client.any_chatgpt,
        "allowed_redirect_uris": client.allowed_redirect_uris(),
        "created_at": client.created_at.isoformat(),
        "last_used_at": client.last_used_at.isoformat() if client.last_used_at else None,
    }
