"""getTodos as a builder might write it without this template, for `make bench` to measure beside
the app: each answers GET /todos for an API key as the app does (the key looked up by its
digest, one page of the key owner's open todos, the same JSON) from the same database.

- fastapi_sync: FastAPI, SQLAlchemy 2 and Pydantic v2 with the sync engine and a session per
  request, as FastAPI's SQL tutorial writes them, under uvicorn with its standard extras;
- fastapi_async: the same with the async engine (aiosqlite, asyncpg);
- flask_lean: Flask with SQLAlchemy Core and the json module, no schema library, under the
  app's own gunicorn config.

They do less than the app (no scopes, rate limit, envelope, security headers or request id):
the comparison is of the work both do.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

KEY_PREFIX = "tdk_"
PAGE = 50


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def bearer(authorization: str | None) -> str | None:
    """The API key of an `Authorization: Bearer tdk_...` header."""
    scheme, _, credential = (authorization or "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential.startswith(KEY_PREFIX):
        return None
    return credential


def sync_url(url: str) -> str:
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def async_url(url: str) -> str:
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url.replace("sqlite://", "sqlite+aiosqlite://", 1)


class UTCDateTime(TypeDecorator):
    """Datetimes stored as naive UTC, read as aware ones, as the app stores them."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)
