"""The OAuth 2 provider's records, implementing Authlib's client, code and token interfaces.

A *grant* is one user's authorization of one client: it is created when a code is exchanged,
and owns every refresh and access token issued under it. Revoking the grant (any of its refresh
tokens, a replayed code, or "disconnect" on the account page) ends all of them at once.
Every token, code and client secret is stored only as a SHA-256 digest.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, utcnow
from app.models.user import User
from app.secrets_util import same_digest

CHATGPT_CALLBACK_HOSTS = ("chat.openai.com", "chatgpt.com")
GPT_ID_PATTERN = r"(?:g-[A-Za-z0-9]{1,64}|plugin-[A-Za-z0-9-]{1,64})"
# \Z, not $: $ also matches before a trailing newline.
GPT_ID_RE = re.compile(rf"^{GPT_ID_PATTERN}\Z")
CHATGPT_CALLBACK_RE = re.compile(
    rf"^https://(?:chat\.openai\.com|chatgpt\.com)/aip/({GPT_ID_PATTERN})/oauth/callback\Z"
)
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

# How a client came to be known (OAuthClient.origin).
CREATED = "created"  # by an admin: `clients create`, /admin, gpt-setup
REGISTERED = "registered"  # by itself, with dynamic client registration (RFC 7591)
METADATA = "metadata"  # by its client ID metadata document: client_id is the document's URL
ORIGINS = (CREATED, REGISTERED, METADATA)
# A client_id may be a metadata document's URL.
CLIENT_ID_MAX = 1000


def chatgpt_callbacks(gpt_id: str) -> list[str]:
    return [f"https://{host}/aip/{gpt_id}/oauth/callback" for host in CHATGPT_CALLBACK_HOSTS]


class OAuthClient(Base, ClientMixin):
    __tablename__ = "oauth_clients"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(CLIENT_ID_MAX), unique=True)
    origin: Mapped[str] = mapped_column(sa.String(16), default=CREATED, server_default=CREATED)
    # None for a public client (no secret; PKCE is then required).
    client_secret_digest: Mapped[str | None] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(100))
    redirect_uris: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    gpt_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Development only: any ChatGPT GPT callback on ChatGPT's two hosts is allowed.
    any_chatgpt: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    scope: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When a user last allowed it; a self-registered client long unused is deleted.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A metadata document client: until when its fetched document may be used without asking
    # its host again (HTTP caching headers).
    metadata_fresh_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_public(self) -> bool:
        return self.client_secret_digest is None

    @property
    def registered_itself(self) -> bool:
        """Whether it told this server who it is (its name is its own claim), rather than being
        created by an admin."""
        return self.origin != CREATED

    def allowed_redirect_uris(self) -> list[str]:
        uris = list(self.redirect_uris)
        for gpt_id in self.gpt_ids:
            uris.extend(chatgpt_callbacks(gpt_id))
        return uris

    # Authlib's ClientMixin interface.
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.allowed_redirect_uris()
        return uris[0] if len(uris) == 1 and not self.any_chatgpt else None

    def get_allowed_scope(self, scope: str | None) -> str:
        # ChatGPT sends `scope=` when the builder leaves Scope empty: give the client's default.
        if not scope:
            return self.scope
        allowed = set(scope_to_list(self.scope))
        return list_to_scope([s for s in scope_to_list(scope) if s in allowed])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if redirect_uri in self.allowed_redirect_uris():
            return True
        return self.any_chatgpt and CHATGPT_CALLBACK_RE.match(redirect_uri) is not None

    def check_client_secret(self, client_secret: str) -> bool:
        return same_digest(client_secret, self.client_secret_digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # A confidential client may use either method: ChatGPT's "Token Exchange Method" can be
        # switched in the editor without the client being registered again.
        if self.is_public:
            return method == "none"
        return method in CONFIDENTIAL_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


class AuthorizationCode(Base, AuthorizationCodeMixin):
    __tablename__ = "oauth_authorization_codes"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    code_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(sa.Text, default="")
    scope: Mapped[str] = mapped_column(sa.String(255))
    code_challenge: Mapped[str | None] = mapped_column(sa.String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(sa.String(10))
    # The resource (RFC 8707) it was asked for, canonical; None for the REST API.
    resource: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    client: Mapped[OAuthClient] = relationship()
    user: Mapped[User] = relationship()

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_code_challenge(self) -> str | None:
        return self.code_challenge

    def get_code_challenge_method(self) -> str | None:
        return self.code_challenge_method

    def get_nonce(self) -> None:
        return None

    def get_auth_time(self) -> None:
        return None


class OAuthGrant(Base):
    """One user's authorization of one client, and its refresh token."""

    __tablename__ = "oauth_grants"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The code it came from, so replaying that code revokes it.
    code_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("oauth_authorization_codes.id", ondelete="SET NULL"), index=True
    )
    scope: Mapped[str] = mapped_column(sa.String(255))
    # The one resource (RFC 8707) its tokens are for, canonical; None for the REST API.
    resource: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    client: Mapped[OAuthClient] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")

    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class RefreshToken(Base):
    """A refresh token of a grant.

    A confidential client keeps one for the life of its grant. A public client's is replaced at
    each use, and the replaced ones are kept (`rotated_at` set), so that one used again later is
    recognised as a copy in other hands, and revoking it still ends its grant (RFC 9700 4.14).
    """

    __tablename__ = "oauth_refresh_tokens"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("oauth_grants.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When it was first used to get its successor; None while it is the one to use.
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    grant: Mapped[OAuthGrant] = relationship(lazy="joined")

    # What Authlib's refresh grant and revocation endpoint ask of a "token".
    def check_client(self, client: OAuthClient) -> bool:
        return self.grant.client_pk == client.id

    def get_scope(self) -> str:
        return self.grant.scope

    @property
    def resource(self) -> str | None:
        return self.grant.resource

    def is_revoked(self) -> bool:
        return self.grant.is_revoked()


class AccessToken(Base, TokenMixin):
    __tablename__ = "oauth_access_tokens"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("oauth_grants.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scope: Mapped[str] = mapped_column(sa.String(255))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    grant: Mapped[OAuthGrant] = relationship(lazy="joined")

    @property
    def user(self) -> User:
        return self.grant.user

    @property
    def resource(self) -> str | None:
        return self.grant.resource

    def check_client(self, client: OAuthClient) -> bool:
        return self.grant.client_pk == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.expires_at - utcnow()) / timedelta(seconds=1)))

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None or self.grant.revoked_at is not None


class Consent(Base):
    """A user's standing permission for a client, so ChatGPT's re-sign-ins skip the question."""

    __tablename__ = "oauth_consents"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "client_pk", "resource"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    client_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(sa.String(255))
    # The resource (RFC 8707) it was given for, canonical; "" for the REST API. Not NULL, so
    # that the unique constraint holds on PostgreSQL, where NULLs are all distinct.
    resource: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    client: Mapped[OAuthClient] = relationship(lazy="joined")

    def covers(self, scope: str) -> bool:
        return set(scope_to_list(scope) or []) <= set(scope_to_list(self.scope) or [])
