"""The API's hot reads skip SQLAlchemy's execution machinery (DirectQuery) and must give
exactly what SQLAlchemy would: the same values, of the same types, and its exceptions."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import DirectQuery, db, read_all, read_first
from app.models import Todo
from tests.factories import make_todo, make_user

TODOS = Todo.__table__
# Every column type of a todo, a bound parameter and a literal one.
STATEMENT = (
    sa.select(*TODOS.c)
    .where(TODOS.c.owner_id == sa.bindparam("owner"), TODOS.c.title != "never listed")
    .order_by(TODOS.c.id)
)


def typed(rows) -> list[tuple]:
    return [tuple((type(value), value) for value in row) for row in rows]


def test_rows_are_what_sqlalchemy_gives(app):
    with app.app_context():
        owner = make_user()
        owner_id = owner.id
        make_todo(owner, "due, with notes", due=date(2026, 12, 24), notes="Ask about Saturday.")
        make_todo(owner, "done, no date", done=True)
        make_todo(owner, "never listed")
        expected = db.session.execute(STATEMENT, {"owner": owner_id}).all()
        db.session.rollback()
    assert len(expected) == 2

    with app.test_request_context():
        rows = read_all(DirectQuery(STATEMENT), {"owner": owner_id})
        first = read_first(DirectQuery(STATEMENT), {"owner": owner_id})
        nothing = read_first(DirectQuery(STATEMENT), {"owner": owner_id + 1})

    assert typed(rows) == typed(expected)
    assert first is not None and typed([first]) == typed(expected[:1])
    assert first[TODOS.c.keys().index("created_at")].tzinfo is not None
    assert nothing is None


def test_a_failing_read_raises_sqlalchemys_exception(app):
    broken = DirectQuery(sa.select(sa.text("* FROM no_such_table")))
    with app.test_request_context(), pytest.raises(sa.exc.DBAPIError):
        read_first(broken)
