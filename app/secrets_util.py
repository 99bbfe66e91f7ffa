"""Random credentials and the digests that are all the database ever keeps of them."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A random credential whose prefix says what it is (and lets secret scanners find it)."""
    return f"{prefix}{secrets.token_urlsafe(nbytes)}"


def digest(value: str) -> str:
    # Credentials carry 256 random bits, so a fast hash is as strong as a slow one here, and
    # checking a token on every request stays cheap.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def same_digest(value: str, stored: str | None) -> bool:
    return stored is not None and secrets.compare_digest(digest(value), stored)
