"""What every `flask --app app ...` command of this app shares.

A bad setting already ends a command with one line (`ConfigError` is a ClickException). The
database is the other thing an operator sets up: a command that cannot use it says whether it
cannot reach it or it is not migrated, in one line, instead of SQLAlchemy's traceback.
"""

from __future__ import annotations

from typing import Any

import click
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import AppGroup as FlaskAppGroup
from flask.cli import ScriptInfo

from app.config import SetupError
from app.extensions import db
from app.platform.database import migration_heads

UPGRADE_COMMAND = "flask --app app db upgrade"


def database_location(url: sa.URL) -> str:
    """The database URL with its password hidden and without its driver: safe to print, and
    enough to spot a wrong host or name."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def unreachable(url: sa.URL, error: sa.exc.DBAPIError) -> str:
    """The driver's own first line says why (refused, unknown host, bad password, no file)."""
    text = str(error.orig).strip()
    reason = text.splitlines()[0] if text else type(error.orig).__name__
    if url.password:
        reason = reason.replace(url.password, "***")
    return f"cannot reach the database at {database_location(url)}: {reason}"


NOT_MIGRATED = f"the database is not migrated: run {UPGRADE_COMMAND}"


def database_problem() -> str | None:
    """Why the app's database cannot be used (one line), or None when it can: reachable, and
    at the newest migration. Needs an app context."""
    directory = current_app.extensions["migrate"].directory
    try:
        with db.engine.connect() as connection:
            applied, expected = migration_heads(connection, directory)
    except sa.exc.DBAPIError as error:
        return unreachable(db.engine.url, error)
    if applied == expected:
        return None
    known = {revision.revision for revision in ScriptDirectory(directory).walk_revisions()}
    unknown = applied - known
    if unknown:
        # Migrated by a newer release than this one: upgrading cannot help.
        return (
            f"the database is at migration {', '.join(sorted(unknown))}, which this code does "
            "not have: run the release that migrated it"
        )
    return NOT_MIGRATED


class AppCommand(click.Command):
    """A command that, when the database fails it, says what to fix in one line.

    The check runs only after a database error, so a command that works pays nothing for it;
    an error on a database that is reachable and migrated is a bug, and keeps its traceback.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except sa.exc.DBAPIError as error:
            with ctx.ensure_object(ScriptInfo).load_app().app_context():
                problem = database_problem()
            if problem is None:
                raise
            raise SetupError(problem) from error


class AppGroup(FlaskAppGroup):
    """Flask's AppGroup, whose commands are AppCommands."""

    command_class = AppCommand
