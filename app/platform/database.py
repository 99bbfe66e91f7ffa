"""Bounded waits on the database: a database that stops answering costs a call a 503 within
seconds, never a worker thread; and which migrations a database is at.

DATABASE_TIMEOUT (seconds) bounds every step a call can wait on:

- SQLite: a write waiting for another writer's lock (busy_timeout, set on each connection by
  app/extensions.py).
- PostgreSQL: connecting (psycopg's connect_timeout), a statement the server runs
  (statement_timeout), waiting for a connection from the pool (pool_timeout), and, on the
  client side, every round trip (app/platform/watchdog.py).
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa

# Connections each worker process keeps at most. Its threads share them; a request that finds
# all in use waits for one (pool_timeout), so an instance never holds more than
# POOL_SIZE x WEB_CONCURRENCY connections against the plan's limit.
POOL_SIZE = 5
# SQLite's connections are files this process opens, not a server's slots: past POOL_SIZE the
# pool opens more for as long as they are needed (and closes them after), so that reads always
# find one while writes wait, holding theirs, for a lock another process holds. Bounded by the
# threads of a worker that reach the database at once, and the file descriptors they take.
SQLITE_OVERFLOW = 60


def engine_options(uri: str, timeout: int) -> dict[str, Any]:
    """SQLAlchemy engine options that bound each wait by `timeout` seconds."""
    url = sa.make_url(uri)
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return {}  # one connection shared in-process; nothing to wait for
        # The busy timeout is set on each connection (app.extensions).
        return {"pool_size": POOL_SIZE, "max_overflow": SQLITE_OVERFLOW, "pool_timeout": timeout}
    # Added to any options the URL carries (some hosts route by them); connect_args would
    # otherwise replace them.
    statement_timeout = f"-c statement_timeout={timeout * 1000}"
    options = " ".join([*url.normalized_query.get("options", ()), statement_timeout])
    return {
        "pool_size": POOL_SIZE,
        "max_overflow": 0,
        "pool_timeout": timeout,
        "connect_args": {
            # psycopg counts the whole connection set-up, authentication included.
            "connect_timeout": max(timeout, 2),
            "options": options,
        },
    }


@functools.cache
def _heads(directory: str) -> frozenset[str]:
    from alembic.script import ScriptDirectory

    # The scripts are read once per process: they change only with a new release.
    return frozenset(ScriptDirectory(directory).get_heads())


def migration_heads(connection: sa.Connection, directory: str) -> tuple[set[str], frozenset[str]]:
    """The revisions the database is at, and the ones the code's migrations end in."""
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(connection).get_current_heads()), _heads(directory)


def unapplied_migrations(connection: sa.Connection, directory: str) -> str | None:
    """What the database lacks, in words for the log, or None when it is at the code's head."""
    current, expected = migration_heads(connection, directory)
    if current == expected:
        return None
    at = ", ".join(sorted(current)) or "no revision (never migrated)"
    return f"it is at {at}, the code needs {', '.join(sorted(expected))}"


def is_schema_error(error: sa.exc.DBAPIError) -> bool:
    """Whether the database lacks a table or column a statement used, as one that was never
    migrated, or not to the latest revision, does."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in ("42P01", "42703")  # PostgreSQL's undefined_table, undefined_column
    message = str(error.orig)
    return message.startswith(("no such table", "no such column")) or "has no column" in message
