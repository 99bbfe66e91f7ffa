"""getTodos' response cache never serves a list that has changed since, wherever it changed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Todo, User, utcnow
from app.todos.cache import ResponseCache, list_cache
from tests.account_helpers import make_account, make_key
from tests.conftest import TEST_DATABASE_URL, build_app
from tests.factories import make_todo


@pytest.fixture
def app_settings() -> dict:
    return {"ACTION_AUTH": "apikey"}


@pytest.fixture
def ada(app):
    """Ada's id and a Bearer header with her key."""
    with app.app_context():
        user = make_account("ada@example.com")
        _, key = make_key(user)
        return user.id, {"Authorization": f"Bearer {key}"}


def titles(client, auth, **params) -> list[str]:
    response = client.get("/todos", headers=auth, query_string=params)
    assert response.status_code == 200, response.json
    return [todo["title"] for todo in response.json["todos"]]


def test_each_change_through_the_api_shows_in_the_next_list(app, client, ada):
    _, auth = ada
    assert titles(client, auth) == []
    todo_id = client.post("/todos", json={"title": "one"}, headers=auth).json["id"]
    assert titles(client, auth) == ["one"]
    client.patch(f"/todos/{todo_id}", json={"title": "uno"}, headers=auth)
    assert titles(client, auth) == ["uno"]
    client.patch(f"/todos/{todo_id}", json={"done": True}, headers=auth)
    assert titles(client, auth) == []
    assert titles(client, auth, status="done") == ["uno"]
    client.delete(f"/todos/{todo_id}", headers=auth)
    assert titles(client, auth, status="all") == []


def test_a_change_on_another_worker_shows_here(app, client, database_url, ada):
    user_id, auth = ada
    assert titles(client, auth) == []  # cached here, empty
    other_worker = build_app(database_url, ACTION_AUTH="apikey")
    other_worker.test_client().post("/todos", json={"title": "from elsewhere"}, headers=auth)
    assert titles(client, auth) == ["from elsewhere"]
    with other_worker.app_context():
        db.engine.dispose()


def test_a_change_made_with_the_models_outside_a_request_shows(app, client, ada):
    user_id, auth = ada
    assert titles(client, auth) == []
    with app.app_context():
        make_todo(db.session.get(User, user_id), "made by a script")
    assert titles(client, auth) == ["made by a script"]
    with app.app_context():
        todo = db.session.scalar(sa.select(Todo))
        todo.notes = "edited by a script"
        db.session.commit()
    listed = client.get("/todos", headers=auth).json["todos"]
    assert listed[0]["notes"] == "edited by a script"


def test_a_change_made_in_plain_sql_shows(app, client, ada):
    """An operator's console, a bulk import: no app code runs, the database's triggers do."""
    user_id, auth = ada
    client.post("/todos", json={"title": "kept"}, headers=auth)
    assert titles(client, auth) == ["kept"]
    statements = [
        (
            "INSERT INTO todos (owner_id, title, notes, done, created_at, updated_at)"
            " VALUES (:owner, 'typed in a console', '', false, :now, :now), "
            "(:owner, 'and another', '', false, :now, :now)",
            ["kept", "typed in a console", "and another"],
        ),
        (
            "UPDATE todos SET done = true WHERE title = 'kept'",
            ["typed in a console", "and another"],
        ),
        ("DELETE FROM todos WHERE title = 'and another'", ["typed in a console"]),
    ]
    for sql, expected in statements:
        with app.app_context():
            db.session.execute(sa.text(sql), {"owner": user_id, "now": utcnow()})
            db.session.commit()
        assert titles(client, auth) == expected


def test_another_users_list_is_never_served(app, client, ada):
    _, ada_auth = ada
    client.post("/todos", json={"title": "Ada's"}, headers=ada_auth)
    assert titles(client, ada_auth) == ["Ada's"]
    with app.app_context():
        _, key = make_key(make_account("bob@example.com"))
    assert titles(client, {"Authorization": f"Bearer {key}"}) == []


def test_a_reused_user_id_does_not_see_the_cached_list_of_its_previous_owner(app, client, ada):
    user_id, auth = ada
    client.post("/todos", json={"title": "secret"}, headers=auth)
    assert titles(client, auth) == ["secret"]
    with app.app_context():
        db.session.delete(db.session.get(User, user_id))
        db.session.commit()
        # SQLite hands the highest id out again; a new account gets the old one's id.
        newcomer = make_account("eve@example.com", id=user_id)
        _, key = make_key(newcomer)
    assert titles(client, {"Authorization": f"Bearer {key}"}) == []


def test_the_cache_keeps_to_its_size_dropping_the_least_recently_used():
    cache = ResponseCache(max_bytes=10)
    cache.put("a", b"12345")
    cache.put("b", b"12345")
    assert cache.get("a") == b"12345"  # "a" is now the most recent
    cache.put("c", b"123")
    assert cache.get("b") is None
    assert cache.get("a") == b"12345" and cache.get("c") == b"123"
    cache.put("huge", b"x" * 11)
    assert cache.get("huge") is None


def test_cached_and_fresh_answers_are_the_same_bytes(app, client, ada):
    _, auth = ada
    client.post("/todos", json={"title": "Grüße 🌍", "notes": 'a "quote"\nline'}, headers=auth)
    fresh = client.get("/todos", headers=auth)
    with app.app_context():
        assert len(list_cache()._bodies) == 1
    cached = client.get("/todos", headers=auth)
    assert cached.data == fresh.data
    assert cached.mimetype == fresh.mimetype == "application/json"


@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": "apikey", "LIST_CACHE_BYTES": "0"}])
def test_a_zero_size_turns_the_cache_off(app, client, ada):
    _, auth = ada
    client.post("/todos", json={"title": "one"}, headers=auth)
    assert titles(client, auth) == titles(client, auth) == ["one"]
    with app.app_context():
        assert len(list_cache()._bodies) == 0


def test_each_filter_is_answered_for_itself(app, client, ada):
    _, auth = ada
    first = client.post("/todos", json={"title": "milk"}, headers=auth).json["id"]
    client.post("/todos", json={"title": "bread"}, headers=auth)
    client.patch(f"/todos/{first}", json={"done": True}, headers=auth)
    # Each twice: the second answer of each comes from the cache.
    for _ in range(2):
        assert titles(client, auth) == ["bread"]
        assert titles(client, auth, status="done") == ["milk"]
        assert titles(client, auth, status="all") == ["milk", "bread"]
        assert titles(client, auth, status="all", q="MILK") == ["milk"]
        assert titles(client, auth, q="milk", status="all") == ["milk"]


def test_a_refused_query_is_refused_every_time_and_not_kept(app, client, ada):
    _, auth = ada
    client.post("/todos", json={"title": "milk"}, headers=auth)
    for _ in range(2):
        response = client.get("/todos?status=someday", headers=auth)
        assert response.status_code == 422
        assert "status" in response.json["errors"]["query"]
        bad_cursor = client.get("/todos?cursor=not-one-of-ours", headers=auth)
        assert bad_cursor.status_code == 400
    with app.app_context():
        assert len(list_cache()._bodies) == 0


def test_a_very_long_query_is_answered_but_not_kept(app, client, ada):
    _, auth = ada
    client.post("/todos", json={"title": "milk"}, headers=auth)
    query = "milk" + " " * 2000
    for _ in range(2):
        assert titles(client, auth, q=query.strip()) == ["milk"]
        response = client.get("/todos", headers=auth, query_string={"q": "milk", "pad": query})
        assert [t["title"] for t in response.json["todos"]] == ["milk"], response.json
    with app.app_context():
        assert len(list_cache()._bodies) == 1  # the short query only


# One statement per todo, as a bulk load row by row (executemany) sends them.
INSERT_TODO = sa.text(
    "INSERT INTO todos (owner_id, title, notes, done, created_at, updated_at)"
    " VALUES (:owner, :title, '', false, :now, :now)"
)


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="PostgreSQL only: set TEST_DATABASE_URL (.ci/run does)"
)
def test_one_transaction_gives_the_owner_one_new_version_however_many_statements(app, client, ada):
    """A bulk load one statement at a time must not update the owner's row per statement:
    PostgreSQL slows down with every update of a row the transaction has updated already."""
    user_id, auth = ada
    assert titles(client, auth) == []
    row = {"owner": user_id, "now": utcnow()}
    with app.app_context(), db.engine.begin() as conn:
        for n in range(30):
            conn.execute(INSERT_TODO, {**row, "title": f"loaded {n}"})
        updates = conn.scalar(
            sa.text("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'users'")
        )
    assert updates == 1
    assert len(titles(client, auth)) == 30


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="PostgreSQL only: set TEST_DATABASE_URL (.ci/run does)"
)
def test_a_new_version_undone_with_a_savepoint_is_made_again(app, client, ada):
    user_id, auth = ada
    assert titles(client, auth) == []
    row = {"owner": user_id, "now": utcnow()}
    with app.app_context(), db.engine.begin() as conn:
        savepoint = conn.begin_nested()
        conn.execute(INSERT_TODO, {**row, "title": "undone"})
        savepoint.rollback()
        conn.execute(INSERT_TODO, {**row, "title": "kept"})
    assert titles(client, auth) == ["kept"]
