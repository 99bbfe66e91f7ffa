"""Authlib grants and endpoints, set up for what ChatGPT sends.

Where Authlib's defaults differ from ChatGPT's behaviour:
- client authentication: both client_secret_post and client_secret_basic on every endpoint
  (the editor's "Token Exchange Method" picks one), `none` for public clients;
- PKCE: S256 only; optional for confidential clients (ChatGPT sends none), required for public;
- refresh tokens: issued always; for confidential clients they do not rotate, so two racing
  refreshes or a retry after a lost response never sign the user out. Public clients get a new
  one with every refresh. A replaced token still works for REFRESH_GRACE, and each use of it
  gets a new refresh token of its own as well, so that of two racing refreshes, or a retry after
  a lost response, every answer carries a refresh token that works next time; used again after
  that, it revokes the grant (RFC 9700 4.14.2);
- a replayed code revokes everything issued from it.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    InvalidScopeError,
    UnsupportedTokenTypeError,
    grants,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint as BaseRevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge

from app.extensions import db
from app.models import AccessToken, AuthorizationCode, OAuthGrant, RefreshToken, utcnow
from app.oauth.resources import requested_resource
from app.secrets_util import digest

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
CODE_LIFETIME = timedelta(minutes=5)
REFRESH_GRACE = timedelta(seconds=60)


class S256CodeChallenge(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        request = grant.request
        challenge = request.payload.data.get("code_challenge")
        if grant.client.is_public and not challenge:
            raise InvalidRequestError("Public clients must use PKCE (code_challenge, S256).")
        if challenge and request.payload.data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Use code_challenge_method=S256.")
        return super().validate_code_challenge(grant, redirect_uri)


def revoke_grant(grant: OAuthGrant) -> None:
    now = utcnow()
    grant.revoked_at = grant.revoked_at or now
    db.session.execute(
        sa.update(AccessToken)
        .where(AccessToken.grant_pk == grant.id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_requested_scope(self) -> None:
        super().validate_requested_scope()
        scope = self.request.payload.scope
        # Scopes beyond the client's are dropped; asking for none it may have is an error, not
        # a consent page listing nothing and a token that can do nothing.
        if scope and not self.client.get_allowed_scope(scope):
            raise InvalidScopeError()

    def save_authorization_code(self, code: str, request) -> AuthorizationCode:
        payload = request.payload
        record = AuthorizationCode(
            code_digest=digest(code),
            client_pk=request.client.id,
            user_id=request.user.id,
            redirect_uri=payload.redirect_uri or "",
            scope=request.client.get_allowed_scope(payload.scope),
            code_challenge=payload.data.get("code_challenge"),
            code_challenge_method=payload.data.get("code_challenge_method"),
            resource=requested_resource(request),
            expires_at=utcnow() + CODE_LIFETIME,
        )
        db.session.add(record)
        db.session.commit()
        return record

    def query_authorization_code(self, code: str, client) -> AuthorizationCode | None:
        record = db.session.scalar(
            sa.select(AuthorizationCode).where(
                AuthorizationCode.code_digest == digest(code),
                AuthorizationCode.client_pk == client.id,
            )
        )
        if record is None:
            return None
        if record.used_at is not None:
            # RFC 6749 4.1.2: a code used twice may have leaked; end what it gave.
            for grant in db.session.scalars(
                sa.select(OAuthGrant).where(OAuthGrant.code_id == record.id)
            ):
                revoke_grant(grant)
            db.session.commit()
            return None
        if record.expires_at <= utcnow():
            return None
        # Claim the code atomically: of two concurrent exchanges (two workers, two instances),
        # exactly one gets tokens. The claim is committed with the tokens (the token endpoint
        # commits once its answer is made), so an exchange that fails leaves the code unused.
        claimed = db.session.execute(
            sa.update(AuthorizationCode)
            .where(AuthorizationCode.id == record.id, AuthorizationCode.used_at.is_(None))
            .values(used_at=utcnow())
        ).rowcount
        return record if claimed == 1 else None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Kept, marked used, so that a replay can be recognised and its tokens revoked.
        pass

    def authenticate_user(self, authorization_code: AuthorizationCode):
        return authorization_code.user


# Built once: every refresh runs it.
_REFRESH_TOKEN_BY_DIGEST = sa.select(RefreshToken).where(
    RefreshToken.digest == sa.bindparam("digest")
)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        token = db.session.scalar(_REFRESH_TOKEN_BY_DIGEST, {"digest": digest(refresh_token)})
        if token is None or token.is_revoked():
            return None
        if token.rotated_at is None or utcnow() - token.rotated_at <= REFRESH_GRACE:
            return token
        # Used again long after it was replaced: two parties hold this sign-in; stop both.
        revoke_grant(token.grant)
        db.session.commit()
        return None

    def issue_token(self, user, refresh_token: RefreshToken):
        scope = self.request.payload.scope or refresh_token.get_scope()
        return self.generate_token(
            user=user, scope=scope, include_refresh_token=self.request.client.is_public
        )

    def authenticate_user(self, refresh_token: RefreshToken):
        return refresh_token.grant.user

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        if not self.request.client.is_public:
            return  # confidential clients keep their refresh token
        # Only the first use counts: the grace window runs from it, however many racing or
        # retried requests used the token after it.
        db.session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.id == refresh_token.id, RefreshToken.rotated_at.is_(None))
            .values(rotated_at=utcnow())
        )


class UnsupportedTokenType(UnsupportedTokenTypeError):
    # Authlib files this error under 401, as if the client had failed to authenticate; RFC 7009
    # 2.2.1 answers it as every other error of RFC 6749 section 5.2, with 400.
    status_code = 400


class RevocationEndpoint(BaseRevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def check_params(self, request, client) -> None:
        # A hint naming a type this server never issues (an id_token, say) is refused, not
        # ignored: the client asked to revoke something it cannot hold. A known hint that is
        # wrong is no error; query_token looks under both types (RFC 7009 2.1).
        try:
            super().check_params(request, client)
        except UnsupportedTokenTypeError:
            raise UnsupportedTokenType() from None

    def query_token(self, token_string: str, token_type_hint: str | None):
        token_digest = digest(token_string)
        by_access = sa.select(AccessToken).where(AccessToken.digest == token_digest)
        # Replaced refresh tokens too: revoking any token of a sign-in ends it.
        by_refresh = sa.select(RefreshToken).where(RefreshToken.digest == token_digest)
        # The hint only orders the look-ups (RFC 7009 2.1).
        order = (
            [by_refresh, by_access]
            if token_type_hint == "refresh_token"
            else [
                by_access,
                by_refresh,
            ]
        )
        for query in order:
            found = db.session.scalar(query)
            if found is not None:
                return found
        return None

    def revoke_token(self, token, request) -> None:
        if isinstance(token, RefreshToken):
            revoke_grant(token.grant)
        else:
            token.revoked_at = token.revoked_at or utcnow()
        db.session.commit()
