"""A client-side deadline on every PostgreSQL round trip.

The other limits on a wait (app/platform/database.py) rely on the server. A server, or a proxy
in front of it, that accepted the connection and then went silent leaves libpq waiting on the
socket for good: it has no read timeout, and TCP keepalives and tcp_user_timeout do not fire
while the peer's kernel still acknowledges, as it does for a stalled proxy or a frozen server
process. Against a proxy that stops forwarding, only the watchdog ended the wait.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import sqlalchemy as sa

# The server cancels a slow statement itself (statement_timeout), which leaves the connection
# usable; the client gives up on the socket only when even that answer does not come.
WATCHDOG_GRACE = 1.0


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
        if dbapi_connection.closed:
            return  # no socket to wait on: the round trip fails at once
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
