"""Alembic environment, run through Flask-Migrate (`flask --app app db ...`).

The app factory has already built the app, so the engine and metadata are the app's own.
"""

import logging
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context
from flask import current_app

from app.cli import unreachable
from app.config import SetupError
from app.models.base import UTCDateTime

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name)
logger = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%")
)


def render_item(type_, obj, autogen_context):
    # Migrations stay plain SQLAlchemy: the UTC decorator only changes Python-side values.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def process_revision_directives(context, revision, directives):
    # An autogenerate that finds nothing writes no empty revision.
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def run_migrations_offline():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=db.metadata,
        literal_binds=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    try:
        connection = db.engine.connect()
    except sa.exc.DBAPIError as error:
        # One line for the operator (a release phase's log), not a traceback.
        raise SetupError(unreachable(db.engine.url, error)) from error
    with connection:
        if connection.dialect.name == "postgresql":
            # A migration may rewrite a large table: the limits the app puts on each statement
            # while serving calls (DATABASE_TIMEOUT, app/database.py) do not apply here.
            connection = connection.execution_options(database_timeout=False)
            connection.exec_driver_sql("SET statement_timeout = 0")
            connection.commit()
        if connection.dialect.name == "sqlite":
            # Batch migrations copy and drop tables; with foreign keys on, dropping a table
            # would cascade-delete the rows that point at it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            # End the transaction that statement began, or Alembic would not commit its own.
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            render_item=render_item,
            **conf_args,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
