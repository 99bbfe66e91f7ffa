"""When the database is down or drops connections, callers get an answer they can act on."""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.conftest import TEST_DATABASE_URL, build_app


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{tmp}/missing-dir/todo.sqlite3", "postgresql://postgres@127.0.0.1:1/todo"],
    ids=["sqlite in a missing directory", "postgres on a closed port"],
)
def test_without_a_database_every_call_gets_a_503_to_retry(tmp_path, url):
    app = build_app(url.format(tmp=tmp_path), ACTION_AUTH="apikey")
    client = app.test_client()
    auth = {"Authorization": "Bearer tda_0123456789abcdef0123456789abcdef"}

    answers = [
        client.get("/todos", headers=auth),
        client.post("/todos", json={"title": "Buy milk"}, headers=auth),
        client.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": "x",
                "client_id": "a-client",
                "client_secret": "its-secret",
            },
        ),
    ]

    for response in answers:
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        assert response.headers["Retry-After"].isdigit()
        body = response.json
        # The token endpoint answers in RFC 6749's format, the API in its envelope.
        assert "database is unavailable" in body.get("message", body.get("error_description"))
        assert "127.0.0.1" not in response.get_data(as_text=True)


def test_a_page_without_a_database_says_so_in_html(tmp_path):
    app = build_app(f"sqlite:///{tmp_path}/missing-dir/todo.sqlite3")
    client = app.test_client()
    client_id = "ChatGPT-client-id"

    response = client.get(
        "/oauth/authorize",
        query_string={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": "https://chatgpt.com/aip/g-abc/oauth/callback",
        },
    )

    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "Please try again" in response.get_data(as_text=True)


def _drop_the_apps_connections() -> int:
    """What a PaaS database restart does: the server ends every other session."""
    engine = sa.create_engine(TEST_DATABASE_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        ended = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    engine.dispose()
    return ended


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="PostgreSQL only: set TEST_DATABASE_URL (.ci/run does)"
)
@pytest.mark.parametrize(
    "app_settings",
    # With a key, the credential check is the first read after the drop; in `none` mode, with
    # no credential to check, the list itself is.
    [{"ACTION_AUTH": "apikey"}, {"ACTION_AUTH": "none"}],
    ids=["credential read first", "list read first"],
)
def test_calls_after_the_server_dropped_idle_connections_succeed(
    app, client, app_settings, auth_headers
):
    auth = auth_headers() if app_settings["ACTION_AUTH"] == "apikey" else {}
    assert client.post("/todos", json={"title": "before"}, headers=auth).status_code == 201
    assert client.get("/todos", headers=auth).status_code == 200

    # The session's connection is in the pool now.
    assert _drop_the_apps_connections() >= 1

    listed = client.get("/todos?status=all", headers=auth)
    added = client.post("/todos", json={"title": "after"}, headers=auth)

    assert listed.status_code == 200, listed.json
    assert [t["title"] for t in listed.json["todos"]] == ["before"]
    assert added.status_code == 201, added.json
    with app.app_context():
        assert db.session.execute(sa.text("SELECT count(*) FROM todos")).scalar_one() == 2


@contextmanager
def _write_lock_held(database_url: str) -> Iterator[None]:
    """Another writer holding the lock a write needs, as a long migration or a stuck process
    would; released after a while in any case, so that a call that waits for it ends."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(url.database, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
    else:
        holder = psycopg.connect(url.set(drivername="postgresql").render_as_string(False))
        holder.execute("LOCK TABLE todos IN EXCLUSIVE MODE")
    release = threading.Timer(15, holder.rollback)
    release.start()
    try:
        yield
    finally:
        release.cancel()
        holder.rollback()
        holder.close()


@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": "none", "DATABASE_TIMEOUT": "1"}])
def test_a_write_behind_another_writers_lock_gets_a_503_within_the_timeout(
    client, database_url, app_settings
):
    with _write_lock_held(database_url):
        start = time.monotonic()
        response = client.post("/todos", json={"title": "Buy milk"})
        elapsed = time.monotonic() - start

    assert response.status_code == 503, response.json
    assert response.headers["Retry-After"].isdigit()
    assert elapsed < 5, elapsed
    assert client.post("/todos", json={"title": "Buy milk"}).status_code == 201


@pytest.fixture
def unmigrated_url(tmp_path) -> Iterator[str]:
    """A database the app can reach whose tables were never made: a new SQLite file, or on
    PostgreSQL an empty schema of the test database."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path}/never-migrated.sqlite3"
        return
    schema = f"unmigrated_{secrets.token_hex(4)}"
    engine = sa.create_engine(TEST_DATABASE_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = sa.make_url(TEST_DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def test_a_database_never_migrated_is_unhealthy_and_logged_as_such(unmigrated_url, caplog):
    app = build_app(unmigrated_url, ACTION_AUTH="none")
    client = app.test_client()

    health = client.get("/healthz")
    listed = client.get("/todos")

    assert health.status_code == 503
    assert health.json == {
        "status": "unavailable",
        "message": "The database is not migrated: run `flask --app app db upgrade`.",
    }
    assert listed.status_code == 503
    assert listed.headers["Retry-After"].isdigit()
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("not migrated" in m and "never migrated" in m for m in logged), logged
    assert not any("database unavailable" in m or "unhandled error" in m for m in logged), logged
    with app.app_context():
        db.engine.dispose()


def test_a_database_behind_the_latest_migration_is_unhealthy(app, client):
    with app.app_context():
        (current,) = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).one()
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
        db.session.commit()
    try:
        health = client.get("/healthz")
    finally:
        with app.app_context():
            db.session.execute(
                sa.text("UPDATE alembic_version SET version_num = :v"), {"v": current}
            )
            db.session.commit()

    assert health.status_code == 503
    assert "not migrated" in health.json["message"]
    assert client.get("/healthz").json == {"status": "ok"}


MCP_HEADERS = {"Accept": "application/json", "MCP-Protocol-Version": "2025-06-18"}
LIST_TODOS = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "tools/call",
    "params": {"name": "list_todos", "arguments": {}},
}


@contextmanager
def _every_connection_taken(app) -> Iterator[None]:
    """The worker's pool with every connection in use elsewhere, as when more calls than it
    holds are waiting on a slow database."""
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    with app.app_context():
        engine = db.engine
        held = [engine.connect() for _ in range(options["pool_size"] + options["max_overflow"])]
    try:
        yield
    finally:
        for connection in held:
            connection.close()


@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": "none", "DATABASE_TIMEOUT": "1"}])
def test_waiting_too_long_for_a_pooled_connection_is_a_503_to_retry(
    app, client, app_settings, caplog
):
    with _every_connection_taken(app):
        start = time.monotonic()
        listed = client.get("/todos")
        called = client.post("/mcp", json=LIST_TODOS, headers=MCP_HEADERS)
        elapsed = time.monotonic() - start

    assert listed.status_code == 503, listed.get_data(as_text=True)
    assert listed.headers["Retry-After"].isdigit()
    assert listed.json["message"] == "The service is busy; nothing was changed. Try again shortly."
    # The MCP endpoint says the same in JSON-RPC's words.
    assert called.status_code == 503
    assert called.headers["Retry-After"].isdigit()
    assert called.json["id"] == 7
    assert called.json["error"]["code"] == -32603
    assert called.json["error"]["data"]["code"] == 503
    assert elapsed < 5, elapsed
    assert "no pooled connection came free" in caplog.text
    assert client.get("/todos").status_code == 200


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's one writer at a time")
@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": "none", "DATABASE_TIMEOUT": "2"}])
def test_a_write_lock_held_elsewhere_delays_writes_only(app, database_url, app_settings):
    """Writes that wait for the lock hold pooled connections while they wait; reads must still
    find one, and answer at once (WAL lets them read beside a writer)."""
    added = app.test_client().post("/todos", json={"title": "before"})
    assert added.status_code == 201
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    writers = options["pool_size"] + 2  # more than the pool keeps
    with _write_lock_held(database_url), ThreadPoolExecutor(writers + 1) as threads:
        waiting = [
            threads.submit(app.test_client().post, "/todos", json={"title": "blocked"})
            for _ in range(writers)
        ]
        with app.app_context():
            pool = db.engine.pool
            deadline = time.monotonic() + 5
            # Every writer is inside its call, holding a connection, waiting on the lock.
            while pool.checkedout() < writers and time.monotonic() < deadline:
                time.sleep(0.01)
            assert pool.checkedout() >= writers
        for _ in range(5):
            start = time.monotonic()
            listed = threads.submit(app.test_client().get, "/todos").result()
            assert listed.status_code == 200, listed.get_data(as_text=True)
            assert time.monotonic() - start < 1.0
            assert [t["title"] for t in listed.json["todos"]] == ["before"]
        statuses = {future.result().status_code for future in waiting}
    assert statuses == {503}


def test_a_connection_lost_before_the_end_of_a_request_changes_no_answer(app, caplog):
    """The answer is decided once the view returns: a rollback at the request's end that
    meets a connection gone dead (a database failover between the last statement and the
    end of the request) is logged, not turned into a server's error page."""

    @app.get("/_read_then_lose_the_connection")
    def read_then_lose_the_connection():
        db.session.execute(sa.text("SELECT 1"))
        # What a failover leaves behind: the connection the transaction is on, dead.
        db.session.connection().connection.dbapi_connection.close()
        return {"read": True}

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/_read_then_lose_the_connection")

    assert response.status_code == 200
    assert response.json == {"read": True}
    assert "could not end the request's database session" in caplog.text
