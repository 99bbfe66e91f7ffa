"""Password hashing with Argon2id, a memory-hard KDF."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

# argon2-cffi's defaults follow RFC 9106's second recommendation (64 MiB, 3 passes).
_production_hasher = PasswordHasher()
# Still Argon2id, with a small cost, for APP_ENV=testing only: the suite logs in hundreds of
# times. Every other environment, development included, pays the full price.
_testing_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _hasher() -> PasswordHasher:
    if has_app_context() and current_app.config.get("APP_ENV") == "testing":
        return _testing_hasher
    return _production_hasher


PASSWORD_MIN = 10
PASSWORD_MAX = 256


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        # Spend the same time as a real check, so unknown accounts do not answer faster.
        _hasher().hash(password)
        return False
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)
