"""When the database is down or drops connections, callers get an answer they can act on."""

from __future__ import annotations

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
