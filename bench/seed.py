"""Users and todos for a bench run, written through the app's models in one process.

`python -m bench.seed SPEC...` with the bench environment (DATABASE_URL, ...), where each SPEC
is email:open_todos. Prints nothing; the password is bench.PASSWORD.
"""

from __future__ import annotations

import sys

import sqlalchemy as sa

from app import create_app
from app.accounts.passwords import hash_password
from app.extensions import db
from app.models import User, utcnow
from app.todos.models import Todo
from bench import PASSWORD

BATCH = 1000  # rows per INSERT: 7,000 parameters, under SQLite's limit of 32,766


def seed(email: str, todos: int) -> None:
    user = User(email=email, password_hash=hash_password(PASSWORD))
    db.session.add(user)
    db.session.commit()
    now = utcnow()
    rows = [
        {
            "owner_id": user.id,
            "title": f"Todo number {n}: call the plumber about the kitchen tap",
            "notes": "Ask about Saturday morning." if n % 3 == 0 else "",
            "done": False,
            "due": None,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(todos)
    ]
    # One multi-row INSERT per batch rather than a statement per row: 100 statements, not
    # 100,000, for the biggest list.
    for start in range(0, len(rows), BATCH):
        db.session.execute(sa.insert(Todo).values(rows[start : start + BATCH]))
    db.session.commit()


def main(specs: list[str]) -> None:
    app = create_app()
    with app.app_context():
        for spec in specs:
            email, _, count = spec.rpartition(":")
            seed(email, int(count))
        if db.engine.dialect.name == "postgresql":
            settle_postgres()


def settle_postgres() -> None:
    """Leave the database as a running one would be, not freshly bulk-loaded: vacuumed,
    analysed and checkpointed. Otherwise autovacuum and the checkpointer work through the
    100,000 new rows during the first measurements, on the same cores."""
    # Maintenance, not a call: the limits the app puts on each statement (DATABASE_TIMEOUT)
    # do not apply, as they do not to migrations.
    engine = db.engine.execution_options(isolation_level="AUTOCOMMIT", database_timeout=False)
    with engine.connect() as conn:
        conn.execute(sa.text("SET statement_timeout = 0"))
        conn.execute(sa.text("VACUUM ANALYZE"))
        try:
            conn.execute(sa.text("CHECKPOINT"))
        except sa.exc.ProgrammingError:
            pass  # needs superuser or pg_checkpoint; the bench still runs without it


if __name__ == "__main__":
    main(sys.argv[1:])
