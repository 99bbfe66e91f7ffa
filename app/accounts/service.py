"""Accounts apart from HTTP: sign-up, log-in, admins, connected apps, export and deletion.

Shared by the web pages and the `flask users` commands; every error is an AccountError whose
message can be shown to the person as it is.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.accounts.passwords import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    hash_password,
    needs_rehash,
    verify_password,
)
from app.extensions import db
from app.keys.service import describe_key
from app.models import ApiKey, AuthorizationCode, Consent, OAuthGrant, User, utcnow
from app.oauth.grants import revoke_grant
from app.operations import registered

EMAIL_MAX = 254
# Deliberately loose: the only real check of an address is mail reaching it.
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
# RFC 2606 reserves .invalid; the built-in demo user lives there.
_RESERVED_SUFFIXES = (".invalid",)


class AccountError(ValueError):
    """Something asked of an account that cannot be done; the message says why."""


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not email or len(email) > EMAIL_MAX or not _EMAIL_RE.match(email):
        raise AccountError("Enter a valid email address, like name@example.com.")
    if email.endswith(_RESERVED_SUFFIXES):
        raise AccountError("That email address cannot be used for an account.")
    return email


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password or "") <= PASSWORD_MAX:
        raise AccountError(f"Use a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters.")
    return password


def find_user(email: str) -> User | None:
    email = (email or "").strip().lower()
    if not email:
        return None
    return db.session.scalar(sa.select(User).where(User.email == email, User.is_demo.is_(False)))


def get_user(email: str) -> User:
    user = find_user(email)
    if user is None:
        raise AccountError(f"No account with email {email.strip().lower()}")
    return user


def list_users() -> list[User]:
    return list(
        db.session.scalars(sa.select(User).where(User.is_demo.is_(False)).order_by(User.id))
    )


def create_user(email: str, password: str, *, is_admin: bool = False) -> User:
    email = normalise_email(email)
    check_password(password)
    taken = AccountError("An account with this email already exists.")
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise taken
    user = User(email=email, password_hash=hash_password(password), is_admin=is_admin)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # Two sign-ups for one address at the same moment: the second loses here.
        db.session.rollback()
        raise taken from None
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user with this email and password, or None; the same time is spent either way."""
    user = find_user(email)
    if not verify_password(user.password_hash if user else None, password or ""):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def set_admin(user: User, is_admin: bool) -> None:
    user.is_admin = is_admin
    db.session.commit()


def connected_apps(user: User) -> list[Consent]:
    return list(
        db.session.scalars(
            sa.select(Consent).where(Consent.user_id == user.id).order_by(Consent.created_at)
        )
    )


def disconnect_app(user: User, client_pk: int) -> str | None:
    """Forget the user's consent for a client, its codes, and end every grant it holds at once.

    Returns the client's name, or None when the user had not connected it.
    """
    consent = db.session.scalar(
        sa.select(Consent).where(Consent.user_id == user.id, Consent.client_pk == client_pk)
    )
    # Codes go first, used ones too: a code not yet exchanged would start a new sign-in, and an
    # exchange under way when its code disappears fails on the grant's foreign key (see
    # app/oauth/server.py) or, if it got there first, is among the grants read below.
    db.session.execute(
        sa.delete(AuthorizationCode).where(
            AuthorizationCode.user_id == user.id, AuthorizationCode.client_pk == client_pk
        )
    )
    grants = list(
        db.session.scalars(
            sa.select(OAuthGrant).where(
                OAuthGrant.user_id == user.id, OAuthGrant.client_pk == client_pk
            )
        )
    )
    if consent is None and not grants:
        db.session.rollback()
        return None
    name = consent.client.name if consent is not None else grants[0].client.name
    for grant in grants:
        revoke_grant(grant)
    if consent is not None:
        db.session.delete(consent)
    db.session.commit()
    return name


def _when(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_data(user: User) -> dict[str, Any]:
    """Everything kept about the user, as JSON-ready data. Digests are never part of it.

    Each resource's rows are dumped as its operations show them (app/operations.py).
    """
    keys = db.session.scalars(
        sa.select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id)
    )
    grants = db.session.scalars(
        sa.select(OAuthGrant).where(OAuthGrant.user_id == user.id).order_by(OAuthGrant.id)
    )
    return {
        "exported_at": _when(utcnow()),
        "account": {
            "email": user.email,
            "created_at": _when(user.created_at),
            "is_admin": user.is_admin,
        },
        **{resource.name: resource.export(user) for resource in registered()},
        "api_keys": [describe_key(key) for key in keys],
        "connected_apps": [
            {
                "client_name": consent.client.name,
                "scopes": consent.scope.split(),
                "connected_at": _when(consent.created_at),
                "updated_at": _when(consent.updated_at),
            }
            for consent in connected_apps(user)
        ],
        "oauth_grants": [
            {
                "client_name": grant.client.name,
                "scopes": grant.scope.split(),
                "created_at": _when(grant.created_at),
                "last_refreshed_at": _when(grant.last_refreshed_at),
                "revoked_at": _when(grant.revoked_at),
            }
            for grant in grants
        ],
    }


def delete_user(user: User) -> None:
    """Delete the account; the database's ON DELETE CASCADE removes everything it owns."""
    user_id = user.id
    db.session.expunge(user)
    db.session.execute(sa.delete(User).where(User.id == user_id))
    db.session.commit()


def delete_account(user: User, password: str) -> None:
    if not verify_password(user.password_hash, password or ""):
        raise AccountError("That password is not right; your account was not deleted.")
    delete_user(user)
