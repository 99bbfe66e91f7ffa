"""Extension singletons, bound to an app by `create_app` through `init_app`."""

import sqlite3
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, g, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from app.models.base import Base

db = SQLAlchemy(model_class=Base)


@sa.event.listens_for(sa.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        # SQLite ignores ON DELETE CASCADE unless told; deleting an account relies on it.
        cursor.execute("PRAGMA foreign_keys=ON")
        # Several gunicorn workers share the file: readers must not block the writer.
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL cannot corrupt the database; it only skips an fsync per commit,
        # which made every write wait on the disk.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


AUTOCOMMIT_ENGINE = "todo_action_autocommit_engine"


def init_autocommit_engine(app: Flask) -> None:
    """A second engine on the app's database whose connections run in autocommit mode.

    For the single-statement reads and writes of the API's hot path (the credential check on
    every call, a getTodos page, adding or changing a todo): through the session each one is a
    transaction, which on PostgreSQL costs four round trips (the pool's pre-ping, BEGIN, the
    statement, COMMIT or ROLLBACK). In autocommit it is one, and a write is still atomic: the
    statement and what its triggers do commit together. A request keeps one such connection
    from its first use to its end. Connections are made lazily, so a worker makes its own
    after gunicorn forks.
    """
    with app.app_context():
        engine = db.engine
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # A second engine would open a second, empty in-memory database.
        app.extensions[AUTOCOMMIT_ENGINE] = None
        return
    autocommit_engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    app.extensions[AUTOCOMMIT_ENGINE] = autocommit_engine
    # Whoever closes the app's connections (db.engine.dispose()) closes these too.
    sa.event.listen(engine, "engine_disposed", lambda _: autocommit_engine.dispose())
    app.teardown_appcontext(_release_connection)


def read_first(statement: sa.Executable, params: dict | None = None) -> sa.Row | None:
    """The first row of a read-only statement, outside any transaction."""
    return _read(statement, params, sa.Result.first)


def read_all(statement: sa.Executable, params: dict | None = None) -> list[sa.Row]:
    """Every row of a read-only statement, outside any transaction."""
    return _read(statement, params, sa.Result.all)


def write_returning(statement: sa.Executable, params: dict | None = None) -> sa.Row | None:
    """Run one INSERT, UPDATE or DELETE with RETURNING as its own transaction; the first row
    it returns, or None.

    Never retried: a write that failed on a broken connection may have been applied. Instead
    it runs on a connection that has answered during this request (the credential check's,
    usually), so one the server dropped while idle is found and replaced before the write.
    """
    if current_app.extensions[AUTOCOMMIT_ENGINE] is None:
        row = db.session.execute(statement, params).first()
        db.session.commit()
        return row
    if not g.get(_ANSWERED):
        read_first(_PING)
    try:
        return _connection().execute(statement, params).first()
    except sa.exc.DBAPIError:
        _release_connection()
        raise


_CONNECTION, _ANSWERED = "_autocommit_connection", "_autocommit_connection_answered"
_PING = sa.select(sa.literal_column("1"))


def _connection() -> sa.Connection:
    connection = g.get(_CONNECTION)
    if connection is None:
        connection = current_app.extensions[AUTOCOMMIT_ENGINE].connect()
        setattr(g, _CONNECTION, connection)
    return connection


def _release_connection(_exc: BaseException | None = None) -> None:
    g.pop(_ANSWERED, None)
    connection = g.pop(_CONNECTION, None)
    if connection is not None:
        connection.close()


def _read(statement: sa.Executable, params: dict | None, fetch: Callable[[sa.Result], Any]):
    if current_app.extensions[AUTOCOMMIT_ENGINE] is None:
        return fetch(db.session.execute(statement, params))
    for attempt in (1, 2):
        try:
            rows = fetch(_connection().execute(statement, params))
        except sa.exc.DBAPIError as error:
            _release_connection()
            # A connection the server closed while idle (a PaaS database restarting, an idle
            # timeout): SQLAlchemy has invalidated it and the pool's others, so one retry gets
            # a fresh one. Any other error, or a second failure, is real.
            if attempt == 2 or not error.connection_invalidated:
                raise
        else:
            setattr(g, _ANSWERED, True)
            return rows
    raise AssertionError("unreachable")


migrate = Migrate(compare_type=True, render_as_batch=True)
# Checked only where forms are (see protect_forms): the JSON API and the OAuth token endpoint
# authenticate every request by credential, not by cookie, so CSRF does not apply to them.
csrf = CSRFProtect()


def protect_forms(blueprint: Blueprint) -> None:
    """Require a valid CSRF token on every state-changing request to this blueprint's pages."""

    @blueprint.before_request
    def _check_csrf() -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        if request.method not in ("GET", "HEAD", "OPTIONS") and not getattr(
            view, "_no_csrf", False
        ):
            csrf.protect()


def no_csrf(view: Callable) -> Callable:
    """Mark an endpoint of a form-protected blueprint that clients call without a cookie."""
    view._no_csrf = True  # type: ignore[attr-defined]
    return view
