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
from app.models import Todo, User, utcnow
from bench import PASSWORD

BATCH = 5000


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
    for start in range(0, len(rows), BATCH):
        db.session.execute(sa.insert(Todo), rows[start : start + BATCH])
    db.session.commit()


def main(specs: list[str]) -> None:
    app = create_app()
    with app.app_context():
        for spec in specs:
            email, _, count = spec.rpartition(":")
            seed(email, int(count))
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(sa.text("ANALYZE"))
                conn.commit()


if __name__ == "__main__":
    main(sys.argv[1:])
