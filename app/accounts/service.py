"""Accounts apart from HTTP: sign-up, log-in, admins, connected apps, export and deletion.

Shared by the web pages and the `flask users` commands; every error is an AccountError whose
message can be shown to the person as it is.
"""

from __future__ import annotations

import gzip
import re
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app import resources as registry
from app.accounts.passwords import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    hash_password,
    needs_rehash,
    verify_password,
)
from app.extensions import db
from app.keys.service import describe_key
from app.models import ApiKey, AuthorizationCode, Consent, OAuthGrant, User, UserSession, utcnow
from app.oauth.grants import revoke_grant
from app.users import find_user

EMAIL_MAX = 254
# Deliberately loose: the only real check of an address is mail reaching it.
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
# RFC 2606 reserves .invalid; the built-in demo user lives there.
_RESERVED_SUFFIXES = (".invalid",)


class AccountError(ValueError):
    """Something asked of an account that cannot be done; the message says why."""


class WrongPassword(AccountError):
    """The password given to confirm a change is not the account's."""


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not email or len(email) > EMAIL_MAX or not _EMAIL_RE.match(email):
        raise AccountError("Enter a valid email address, like name@example.com.")
    if email.endswith(_RESERVED_SUFFIXES):
        raise AccountError("That email address cannot be used for an account.")
    return email


PASSWORD_LENGTH = (
    f"Use a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters; a few unrelated words "
    "are easy to remember and hard to guess."
)


@cache
def _common_passwords() -> frozenset[str]:
    # About 20,000 entries: read on first use rather than at import, then kept by the process.
    data = resources.files("app.accounts") / "data" / "common-passwords.txt.gz"
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


# A short pattern said over and over: "zzzzzzzzzzzz", "1111111111111", "abcabcabcabc".
_REPEATED = re.compile(r"(.{1,3}?)\1+", re.S)


def _sequential(text: str) -> bool:
    """Whether each character follows the one before it by one step, always up or always
    down: "abcdefghijkl", "1234567890", "9876543210"."""
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    return steps in ({1}, {-1})


def check_password(password: str, email: str | None = None) -> str:
    """The password, if NIST SP 800-63B's rules allow it: long enough, not a common password,
    not repetitive or sequential characters, and not the account's email address; any
    characters, no rules of composition."""
    password = password or ""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountError(PASSWORD_LENGTH)
    if not password.strip():
        raise AccountError(
            "A password of nothing but spaces or other blank characters is easy to guess; "
            "choose another."
        )
    guess = password.strip().lower()
    if guess in _common_passwords():
        raise AccountError(
            "That password is on a list of common passwords that attackers try first; choose "
            "another, for example a few unrelated words."
        )
    if _REPEATED.fullmatch(guess) or _sequential(guess):
        raise AccountError(
            "That password repeats or counts through characters (like aaaa, abcabc or 1234), "
            "which attackers try first; choose another, for example a few unrelated words."
        )
    email = (email or "").strip().lower()
    if email and guess in {email, email.partition("@")[0]}:
        raise AccountError(
            "Your password must not be your email address or the part before the @; choose another."
        )
    return password


def list_users() -> list[User]:
    return list(
        db.session.scalars(sa.select(User).where(User.is_demo.is_(False)).order_by(User.id))
    )


def add_user(email: str, password: str, *, is_admin: bool = False) -> User | None:
    """The new account, or None when the address has one already.

    The password is hashed either way, so both answers take the same time: sign-up must not
    tell a stranger which addresses have an account. Only bad input raises AccountError.
    """
    email = normalise_email(email)
    check_password(password, email)
    user = User(email=email, password_hash=hash_password(password), is_admin=is_admin)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        return None
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # Two sign-ups for one address at the same moment: the second loses here.
        db.session.rollback()
        return None
    return user


def create_user(email: str, password: str, *, is_admin: bool = False) -> User:
    """An account made by an operator, who may be told that the address is taken."""
    user = add_user(email, password, is_admin=is_admin)
    if user is None:
        raise AccountError("An account with this email already exists.")
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


def end_sessions(user: User, *, keep: UserSession | None = None) -> int:
    """End the user's log-ins to the web pages, all of them or all but `keep`; how many."""
    query = sa.delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    return db.session.execute(query).rowcount


def set_password(user: User, password: str, *, keep: UserSession | None = None) -> int:
    """Give the user a new password and end their other sessions (all, without `keep`).

    The password must already be checked. Returns how many sessions ended. API keys and
    connected apps keep working: each is ended on its own, on the account page.
    """
    user.password_hash = hash_password(password)
    ended = end_sessions(user, keep=keep)
    db.session.commit()
    return ended


def change_password(user: User, current: str, new: str, *, keep: UserSession | None) -> int:
    """The account page's change: the current password proves it is the person."""
    if not verify_password(user.password_hash, current or ""):
        raise WrongPassword("That is not your current password; nothing was changed.")
    return set_password(user, check_password(new, email=user.email), keep=keep)


def set_admin(user: User, is_admin: bool) -> None:
    user.is_admin = is_admin
    db.session.commit()


def connected_apps(user: User) -> list[Consent]:
    return list(
        db.session.scalars(
            sa.select(Consent).where(Consent.user_id == user.id).order_by(Consent.created_at)
        )
    )


def disconnect_app(user: User, client_pk: int, resource: str | None = None) -> str | None:
    """Forget the user's consent for a client, its codes, and end every grant it holds at once:
    those for one resource ("" for the REST API, as Consent has it), or for all of them.

    Returns the client's name, or None when the user had not connected it.
    """
    consents = sa.select(Consent).where(Consent.user_id == user.id, Consent.client_pk == client_pk)
    codes = sa.delete(AuthorizationCode).where(
        AuthorizationCode.user_id == user.id, AuthorizationCode.client_pk == client_pk
    )
    grants = sa.select(OAuthGrant).where(
        OAuthGrant.user_id == user.id, OAuthGrant.client_pk == client_pk
    )
    if resource is not None:
        # Codes and grants name no resource (NULL) for the REST API.
        consents = consents.where(Consent.resource == resource)
        codes = codes.where(AuthorizationCode.resource.is_not_distinct_from(resource or None))
        grants = grants.where(OAuthGrant.resource.is_not_distinct_from(resource or None))
    found = list(db.session.scalars(consents))
    # Codes go first, used ones too: a code not yet exchanged would start a new sign-in, and an
    # exchange under way when its code disappears fails on the grant's foreign key (see
    # app/oauth/server.py) or, if it got there first, is among the grants read below.
    db.session.execute(codes)
    ended = list(db.session.scalars(grants))
    if not found and not ended:
        db.session.rollback()
        return None
    name = found[0].client.name if found else ended[0].client.name
    for grant in ended:
        revoke_grant(grant)
    for consent in found:
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
    sessions = db.session.scalars(
        sa.select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
    )
    return {
        "exported_at": _when(utcnow()),
        "account": {
            "email": user.email,
            "created_at": _when(user.created_at),
            "is_admin": user.is_admin,
        },
        **{resource.name: resource.export(user) for resource in registry.RESOURCES},
        "api_keys": [describe_key(key) for key in keys],
        "connected_apps": [
            {
                "client_name": consent.client.name,
                "resource": consent.resource or None,
                "scopes": consent.scope.split(),
                "connected_at": _when(consent.created_at),
                "updated_at": _when(consent.updated_at),
            }
            for consent in connected_apps(user)
        ],
        "oauth_grants": [
            {
                "client_name": grant.client.name,
                "resource": grant.resource,
                "scopes": grant.scope.split(),
                "created_at": _when(grant.created_at),
                "last_refreshed_at": _when(grant.last_refreshed_at),
                "revoked_at": _when(grant.revoked_at),
            }
            for grant in grants
        ],
        "sessions": [
            {"started_at": _when(row.created_at), "last_seen_at": _when(row.last_seen_at)}
            for row in sessions
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
