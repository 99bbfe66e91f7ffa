"""Extension singletons, bound to an app by `create_app` through `init_app`."""

import sqlite3
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, request
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


READ_ENGINE = "todo_action_read_engine"


def init_read_engine(app: Flask) -> None:
    """A second engine on the app's database whose connections run in autocommit mode.

    For single-statement reads on the hot path (the credential check on every API call, a
    getTodos page): through the session each one is a transaction, which on PostgreSQL costs
    three round trips (BEGIN, the query, ROLLBACK) and a fourth for the pool's pre-ping. In
    autocommit it is one. No pre-ping either: `_read` retries once on a dropped connection
    instead. Connections are made lazily, so a worker makes its own after gunicorn forks.
    """
    with app.app_context():
        engine = db.engine
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # A second engine would open a second, empty in-memory database.
        app.extensions[READ_ENGINE] = None
        return
    read_engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    app.extensions[READ_ENGINE] = read_engine
    # Whoever closes the app's connections (db.engine.dispose()) closes these too.
    sa.event.listen(engine, "engine_disposed", lambda _: read_engine.dispose())


def read_first(statement: sa.Executable, params: dict | None = None) -> sa.Row | None:
    """The first row of a read-only statement, outside any transaction (see init_read_engine)."""
    return _read(statement, params, sa.Result.first)


def read_all(statement: sa.Executable, params: dict | None = None) -> list[sa.Row]:
    """Every row of a read-only statement, outside any transaction (see init_read_engine)."""
    return _read(statement, params, sa.Result.all)


def _read(statement: sa.Executable, params: dict | None, fetch: Callable[[sa.Result], Any]):
    engine = current_app.extensions[READ_ENGINE]
    if engine is None:
        return fetch(db.session.execute(statement, params))
    for attempt in (1, 2):
        try:
            with engine.connect() as connection:
                return fetch(connection.execute(statement, params))
        except sa.exc.DBAPIError as error:
            # A connection the server closed while idle (a PaaS database restarting, an idle
            # timeout): SQLAlchemy has invalidated it and the pool's others, so one retry gets
            # a fresh one. Any other error, or a second failure, is real.
            if attempt == 2 or not error.connection_invalidated:
                raise
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
