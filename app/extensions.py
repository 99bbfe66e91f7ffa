"""Extension singletons, bound to an app by `create_app` through `init_app`."""

import sqlite3
from collections.abc import Callable

import sqlalchemy as sa
from flask import Blueprint, current_app, request
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
