"""Extension singletons, bound to an app by `create_app` through `init_app`."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, g, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

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
        dbapi_connection.create_function("casefold", 1, _casefold, deterministic=True)


def _casefold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


class casefolded(FunctionElement):
    """Text in one case, for matching that ignores case in any script.

    SQLite's own lower() changes only ASCII letters, so "ÉCOLE" would not match "école";
    there it is the casefold() registered on every connection above, elsewhere lower().
    """

    type = sa.String()
    inherit_cache = True
    name = "casefolded"


@compiles(casefolded)
def _lower(element: casefolded, compiler, **kw) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(casefolded, "sqlite")
def _sqlite_casefold(element: casefolded, compiler, **kw) -> str:
    return f"casefold({compiler.process(element.clauses, **kw)})"


AUTOCOMMIT_ENGINE = "todo_action_autocommit_engine"


def init_autocommit_engine(app: Flask) -> None:
    """A second engine on the app's database whose connections run in autocommit mode.

    For the single-statement reads and writes of the API's hot path (the credential check on
    every call, a getTodos page, adding or changing a todo): through the session each one is a
    transaction, which on PostgreSQL costs four round trips (the pool's pre-ping, BEGIN, the
    statement, COMMIT or ROLLBACK). In autocommit it is one, and a write is still atomic: the
    statement and what its triggers do commit together.

    Each thread keeps its connection from one request to the next: checking one out of the
    pool and back in was an eighth of a cached getTodos call on PostgreSQL. With no
    transaction ever left open, nothing carries over. Connections are made on first use in a
    request, so each gunicorn worker makes its own after the fork.
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
    threads = app.extensions[_THREAD_CONNECTIONS] = threading.local()

    def dispose(_engine) -> None:
        # Whoever closes the app's connections (db.engine.dispose()) closes these too.
        _close_connection(threads)
        autocommit_engine.dispose()

    sa.event.listen(engine, "engine_disposed", dispose)


def read_first(statement: sa.Executable | DirectQuery, params: dict | None = None):
    """The first row of a read-only statement, outside any transaction, or None."""
    return _read(statement, params, first=True)


def read_all(statement: sa.Executable | DirectQuery, params: dict | None = None) -> list:
    """Every row of a read-only statement, outside any transaction."""
    return _read(statement, params, first=False)


class DirectQuery:
    """A prebuilt SELECT that runs straight on the DBAPI cursor of the autocommit connection.

    For the reads every API call makes, the credential check above all: there SQLAlchemy's
    execution and result machinery cost more than the query (0.16 ms against 0.07 ms of CPU
    for a credential lookup on PostgreSQL, measured). SQLAlchemy still compiles the statement,
    once per dialect, and supplies each column type's bind and result processors, so the rows
    are what Connection.execute gives, as plain tuples. If the driver raises, the read runs
    again through SQLAlchemy, which tells a dropped connection from other errors, invalidates
    what it must and raises its own exception (see _read).
    """

    def __init__(self, statement: sa.Select) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, str], tuple] = {}

    def run(self, connection: sa.Connection, params: dict | None, first: bool):
        dialect = connection.dialect
        plan = self._plans.get((dialect.name, dialect.driver)) or self._plan(dialect)
        sql, compiled, positions, bind_processors, result_processors = plan
        values = compiled.construct_params(params)
        for name, process in bind_processors:
            values[name] = process(values[name])
        arguments = [values[name] for name in positions] if positions else values
        # Kept in the connection's info, which SQLAlchemy clears when it replaces the
        # connection.
        proxied = connection.connection
        cursor = proxied.info.get(_DIRECT_CURSOR)
        if cursor is None:
            cursor = proxied.info[_DIRECT_CURSOR] = proxied.dbapi_connection.cursor()
        try:
            cursor.execute(sql, arguments)
            # Every row, even for `first`: on SQLite a statement left unfinished keeps its
            # read snapshot open on this long-lived cursor.
            rows = cursor.fetchall()
        except dialect.loaded_dbapi.Error:
            proxied.info.pop(_DIRECT_CURSOR, None)
            return _fetched(connection.execute(self.statement, params), first)
        if first:
            rows = rows[:1]
        if result_processors:
            rows = [_processed(row, result_processors) for row in rows]
        return (rows[0] if rows else None) if first else rows

    def _plan(self, dialect: sa.Dialect) -> tuple:
        compiled = self.statement.compile(dialect=dialect)
        bind_processors = []
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                bind_processors.append((name, process))
        result_processors = []
        for index, column in enumerate(self.statement.selected_columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                result_processors.append((index, process))
        positions = compiled.positiontup if dialect.positional else None
        plan = (compiled.string, compiled, positions, bind_processors, result_processors)
        self._plans[dialect.name, dialect.driver] = plan
        return plan


_DIRECT_CURSOR = "todo_action_direct_cursor"


def _fetched(result: sa.Result, first: bool):
    return result.first() if first else result.all()


def _processed(row: tuple, processors: list) -> tuple:
    values = list(row)
    for index, process in processors:
        values[index] = process(values[index])
    return tuple(values)


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
    connection = _connection()
    try:
        row = connection.execute(statement, params).first()
        # Ends the transaction SQLAlchemy began for its own bookkeeping; the database, in
        # autocommit mode, has committed already.
        connection.commit()
        return row
    except sa.exc.DBAPIError:
        _release_connection()
        raise


_THREAD_CONNECTIONS = "todo_action_autocommit_connections"
_ANSWERED = "_autocommit_connection_answered"
_PING = DirectQuery(sa.select(sa.literal_column("1")))


def _connection() -> sa.Connection:
    threads = current_app.extensions[_THREAD_CONNECTIONS]
    connection = getattr(threads, "connection", None)
    if connection is None:
        connection = threads.connection = current_app.extensions[AUTOCOMMIT_ENGINE].connect()
    return connection


def _release_connection() -> None:
    """Close this thread's connection after an error; the next use makes a fresh one."""
    g.pop(_ANSWERED, None)
    _close_connection(current_app.extensions[_THREAD_CONNECTIONS])


def _close_connection(threads: threading.local) -> None:
    connection = getattr(threads, "connection", None)
    threads.connection = None
    if connection is not None:
        connection.close()


def _read(statement: sa.Executable | DirectQuery, params: dict | None, first: bool):
    if current_app.extensions[AUTOCOMMIT_ENGINE] is None:
        if isinstance(statement, DirectQuery):
            statement = statement.statement
        return _fetched(db.session.execute(statement, params), first)
    for attempt in (1, 2):
        try:
            connection = _connection()
            if isinstance(statement, DirectQuery):
                rows = statement.run(connection, params, first)
            else:
                rows = _fetched(connection.execute(statement, params), first)
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
