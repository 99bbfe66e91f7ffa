"""Bounded waits on the database: a database that stops answering costs a call a 503 within
seconds, never a worker thread.

DATABASE_TIMEOUT (seconds) bounds every step a call can wait on:

- SQLite: a write waiting for another writer's lock (busy_timeout).
- PostgreSQL: connecting (psycopg's connect_timeout), a statement the server runs
  (statement_timeout), waiting for a connection from the pool (pool_timeout), and, on the
  client side, every round trip (`Watchdog`).

The watchdog is there because the other limits rely on the server. A server, or a proxy in
front of it, that accepted the connection and then went silent leaves libpq waiting on the
socket for good: it has no read timeout, and TCP keepalives and tcp_user_timeout do not fire
while the peer's kernel still acknowledges, as it does for a stalled proxy or a frozen server
process. Against a proxy that stops forwarding, only the watchdog ended the wait.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
from typing import Any

import sqlalchemy as sa

# Connections each worker process keeps at most. Its threads share them; a request that finds
# all in use waits for one (pool_timeout), so an instance never holds more than
# POOL_SIZE x WEB_CONCURRENCY connections against the plan's limit.
POOL_SIZE = 5
# The server cancels a slow statement itself (statement_timeout), which leaves the connection
# usable; the client gives up on the socket only when even that answer does not come.
WATCHDOG_GRACE = 1.0


def engine_options(uri: str, timeout: int) -> dict[str, Any]:
    """SQLAlchemy engine options that bound each wait by `timeout` seconds."""
    url = sa.make_url(uri)
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return {}  # one connection shared in-process; nothing to wait for
        # The busy timeout is set on each connection (app.extensions).
        return {"pool_size": POOL_SIZE, "max_overflow": 0, "pool_timeout": timeout}
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


class Watchdog:
    """Shuts the socket of a connection whose round trip outlived its deadline.

    libpq then sees the connection closed: the statement fails with an OperationalError,
    SQLAlchemy discards the connection, and the call answers 503. The watchdog works on a
    duplicate of the socket's descriptor, taken when a round trip starts, so it can never touch
    a descriptor number the connection's own has been closed and reused as. One thread per
    process watches every connection, sleeping until the earliest deadline.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._armed: dict[int, tuple[float, int]] = {}  # id(connection) -> (deadline, fd)
        self._wake_at: float | None = None  # when the thread looks next; None: not before told
        self._pid: int | None = None

    def arm(self, dbapi_connection: Any, seconds: float) -> None:
        """Start, or restart, the deadline of a round trip on this connection."""
        deadline = time.monotonic() + seconds
        key = id(dbapi_connection)
        with self._lock:
            entry = self._armed.get(key)
            fd = entry[1] if entry else os.dup(dbapi_connection.fileno())
            self._armed[key] = (deadline, fd)
            if self._pid != os.getpid():  # first use in this process (gunicorn forks workers)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="database-watchdog", daemon=True).start()
            elif self._wake_at is None or deadline < self._wake_at:
                self._changed.notify()

    def disarm(self, dbapi_connection: Any) -> None:
        with self._lock:
            entry = self._armed.pop(id(dbapi_connection), None)
        if entry:
            os.close(entry[1])

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for key, (deadline, fd) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[key]
                        _shut(fd)
                self._wake_at = min((d for d, _ in self._armed.values()), default=None)
                self._changed.wait(None if self._wake_at is None else self._wake_at - now)


_watchdog = Watchdog()


def _shut(fd: int) -> None:
    with socket.socket(fileno=fd) as sock:  # closing it closes only the duplicate
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the connection had already closed


def bound_round_trips(engine: sa.Engine, timeout: int) -> None:
    """Put every round trip of a PostgreSQL engine under a `Watchdog`.

    A round trip starts at a statement, a commit or a rollback, and at the ping that checks a
    pooled connection before use; it ends when the statement returns or fails, or when the
    connection goes back to the pool. A connection that commits and is then held, unused,
    longer than the deadline is shut too; the app's sessions give theirs back on commit.
    """
    seconds = timeout + WATCHDOG_GRACE
    listen = sa.event.listen

    def usable(conn: sa.Connection) -> bool:
        # An invalidated connection would reconnect when asked for its DBAPI connection.
        return not (conn.closed or conn.invalidated)

    def arm(conn: sa.Connection, *args: Any) -> None:
        if usable(conn) and conn.get_execution_options().get("database_timeout", True):
            _watchdog.arm(conn.connection.dbapi_connection, seconds)

    def disarm(conn: sa.Connection, *args: Any) -> None:
        if usable(conn):
            _watchdog.disarm(conn.connection.dbapi_connection)

    def disarm_failed(context: sa.engine.ExceptionContext) -> None:
        if context.connection is not None:
            disarm(context.connection)

    def disarm_pooled(dbapi_connection: Any, *args: Any) -> None:
        _watchdog.disarm(dbapi_connection)

    def ping(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
        # pool_pre_ping's check, made here so that the watchdog bounds it: SQLAlchemy's own
        # ping runs before any event and would wait on a silent socket for good.
        try:
            _watchdog.arm(dbapi_connection, seconds)
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # As pool_pre_ping does: the server went away, so every pooled connection is
            # stale; SQLAlchemy connects again, once, before the call fails.
            raise sa.exc.InvalidatePoolError() from error
        finally:
            _watchdog.disarm(dbapi_connection)

    listen(engine, "before_cursor_execute", arm)
    listen(engine, "commit", arm)
    listen(engine, "rollback", arm)
    listen(engine, "after_cursor_execute", disarm)
    listen(engine, "handle_error", disarm_failed)
    listen(engine.pool, "checkout", ping)
    for event in ("checkin", "close", "close_detached", "detach", "invalidate"):
        listen(engine.pool, event, disarm_pooled)


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
