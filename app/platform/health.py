"""A health check that answers in time however long the database takes.

A platform's health check waits a few seconds at most, and counts no answer as a failure
without saying why; answering within `timeout` says which. The check runs on a thread of its
own, one per app, so a silent database holds up one check at a time, never the request.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from app.platform.database import unapplied_migrations

log = logging.getLogger(__name__)


class DatabaseProbe:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz")

    def problem(self, engine: sa.Engine, migrations: str, timeout: float) -> str | None:
        """Why the database cannot serve (one sentence), or None when it can."""
        check = self._executor.submit(_problem, engine, migrations)
        try:
            return check.result(timeout=timeout)
        except TimeoutError:
            check.cancel()
            problem = f"The database does not answer within {timeout:g} s."
            log.error("health check: %s", problem)
            return problem


def _problem(engine: sa.Engine, migrations: str) -> str | None:
    try:
        with engine.connect() as connection:
            missing = unapplied_migrations(connection, migrations)
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        reason = str(cause).strip().splitlines()[0][:200] if str(cause).strip() else ""
        log.error("health check: database unavailable: %s: %s", type(cause).__name__, reason)
        return "The database does not answer."
    if missing:
        log.error("health check: database not migrated: %s", missing)
        return "The database is not migrated: run `flask --app app db upgrade`."
    return None
