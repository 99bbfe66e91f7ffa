"""Extension singletons, bound to an app by `create_app` through `init_app`."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from functools import partial

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from app.models.base import Base
from app.platform.database import engine_options
from app.platform.watchdog import bound_round_trips

log = logging.getLogger(__name__)

db = SQLAlchemy(
    model_class=Base,
    # A failed statement's parameters are what a request sent (search text, titles) or digests
    # of credentials: they stay out of error messages and so out of every log line.
    engine_options={"hide_parameters": True},
    # What was committed stays loaded: an answer built after a commit reads the objects as they
    # were written, and never needs the database again to do so.
    session_options={"expire_on_commit": False},
)


def init_db(app: Flask) -> None:
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config["DATABASE_TIMEOUT"]
    )
    db.init_app(app)

    @app.teardown_request
    def _end_session(error: BaseException | None) -> None:
        # Before Flask-SQLAlchemy's own teardown, which would let a failure escape: by now the
        # answer is decided, and a rollback that meets a dropped connection cannot change it.
        try:
            db.session.remove()
        except SQLAlchemyError as failed:
            log.warning("could not end the request's database session: %s", type(failed).__name__)

    with app.app_context():
        engine = db.engine
    timeout = app.config["DATABASE_TIMEOUT"]
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout=timeout))
    else:
        bound_round_trips(engine, timeout)


def _sqlite_pragmas(
    dbapi_connection: sqlite3.Connection, connection_record, *, busy_timeout: int
) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores ON DELETE CASCADE unless told; deleting an account relies on it.
    cursor.execute("PRAGMA foreign_keys=ON")
    # Several gunicorn workers share the file: readers must not block the writer.
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL cannot corrupt the database; it only skips an fsync per commit,
    # which made every write wait on the disk.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A write waits this long for another's lock, then fails (a 503 to retry).
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout * 1000}")
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
