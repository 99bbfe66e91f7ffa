"""API keys apart from HTTP, shared by the account page and the `flask keys` commands.

A key is shown once, when it is made; the database keeps only its SHA-256 digest and the first
few characters, so a key can be recognised in a list but never recovered from a stolen copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import API_KEY_PREFIX, ID_MAX, ApiKey, User, utcnow
from app.models.apikey import VISIBLE_PREFIX_LENGTH
from app.resources import all_scopes
from app.secrets_util import digest, new_secret

NAME_MAX = 100
MAX_EXPIRY_DAYS = 3650


class ApiKeyError(ValueError):
    """A request about a key that cannot be met; the message says why."""


def check_scopes(scopes: Iterable[str]) -> list[str]:
    known = all_scopes()
    wanted = [s.strip() for s in scopes if s and s.strip()]
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise ApiKeyError(f"Unknown scope {unknown[0]!r}; known scopes: {', '.join(known)}")
    if not wanted:
        raise ApiKeyError("Choose at least one scope.")
    # In the canonical order, each once.
    return [s for s in known if s in wanted]


def check_expiry_days(days: int | None) -> int | None:
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise ApiKeyError(f"Expiry must be 1 to {MAX_EXPIRY_DAYS} days, or none.")
    return days


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise ApiKeyError(f"Give the key a name of 1 to {NAME_MAX} characters.")
    return name


def create_key(
    user: User, name: str, scopes: Iterable[str], expires_in_days: int | None = None
) -> tuple[ApiKey, str]:
    """Make a key for `user`; returns it with the full key, which exists only in this answer."""
    name = check_name(name)
    scopes = check_scopes(scopes)
    days = check_expiry_days(expires_in_days)
    if user.is_demo:
        raise ApiKeyError("The demo user cannot have API keys.")
    raw = new_secret(API_KEY_PREFIX)
    now = utcnow()
    key = ApiKey(
        user_id=user.id,
        name=name,
        prefix=raw[:VISIBLE_PREFIX_LENGTH],
        digest=digest(raw),
        scope=" ".join(scopes),
        created_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )
    db.session.add(key)
    db.session.commit()
    return key, raw


def list_keys(user: User | None = None) -> list[ApiKey]:
    query = sa.select(ApiKey).order_by(ApiKey.id)
    if user is not None:
        query = query.where(ApiKey.user_id == user.id)
    return list(db.session.scalars(query))


def key_status(key: ApiKey) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.is_expired():
        return "expired"
    return "active"


def describe_key(key: ApiKey) -> dict[str, Any]:
    """A key's metadata: everything but its digest."""

    def when(value):
        return value.isoformat() if value is not None else None

    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "created_at": when(key.created_at),
        "expires_at": when(key.expires_at),
        "last_used_at": when(key.last_used_at),
        "revoked_at": when(key.revoked_at),
        "status": key_status(key),
    }


def revoke(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    db.session.commit()


def revoke_user_key(user: User, key_id: int) -> ApiKey | None:
    """Revoke one of `user`'s keys; None when the user has no key with that id."""
    key = db.session.scalar(sa.select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id))
    if key is not None:
        revoke(key)
    return key


def find_key(id_or_prefix: str) -> ApiKey:
    """A key by its id, its visible prefix (or the start of it) or the whole key."""
    value = (id_or_prefix or "").strip()
    if value.isascii() and value.isdigit():
        key = db.session.get(ApiKey, int(value)) if int(value) <= ID_MAX else None
        if key is None:
            raise ApiKeyError(f"No API key with id {value}")
        return key
    if not value.startswith(API_KEY_PREFIX) or len(value) <= len(API_KEY_PREFIX):
        raise ApiKeyError(f"Give a key id, or a key prefix like {API_KEY_PREFIX}abcd1234")
    if len(value) > VISIBLE_PREFIX_LENGTH:
        key = db.session.scalar(sa.select(ApiKey).where(ApiKey.digest == digest(value)))
        if key is None:
            raise ApiKeyError("No API key matches that key")
        return key
    matches = list(
        db.session.scalars(
            sa.select(ApiKey)
            .where(ApiKey.prefix.startswith(value, autoescape=True))
            .order_by(ApiKey.id)
        )
    )
    if not matches:
        raise ApiKeyError(f"No API key with prefix {value}")
    if len(matches) > 1:
        ids = ", ".join(str(k.id) for k in matches)
        raise ApiKeyError(f"Prefix {value} matches several keys (ids {ids}); give the id instead")
    return matches[0]
