"""API_RATE_LIMIT: per credential, not per address, with a JSON 429 and Retry-After."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.todos.models import Todo


@pytest.fixture
def app_settings(request) -> dict:
    return {
        "ACTION_AUTH": "apikey",
        "API_RATE_LIMIT": "3 per minute",
        **getattr(request, "param", {}),
    }


def test_each_key_has_its_own_allowance(app, client, auth_headers):
    ada, bob = auth_headers(email="ada@example.com"), auth_headers(email="bob@example.com")
    # Every request comes from the same address, as ChatGPT's do.
    assert [client.get("/todos", headers=ada).status_code for _ in range(3)] == [200] * 3
    refused = client.post("/todos", json={"title": "one too many"}, headers=ada)
    assert refused.status_code == 429
    assert refused.json["code"] == 429 and refused.json["status"] == "Too Many Requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Retry-After" in refused.json["message"]
    assert client.get("/todos", headers=bob).status_code == 200
    # The refused request changed nothing.
    assert client.get("/todos", headers=bob).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Todo)) == 0


@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": "none"}], indirect=True)
def test_without_credentials_the_demo_list_is_limited_per_address(client):
    assert [client.get("/todos").status_code for _ in range(4)] == [200, 200, 200, 429]
    other_address = client.get("/todos", environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert other_address.status_code == 200


@pytest.mark.parametrize("app_settings", [{"API_RATE_LIMIT": "off"}], indirect=True)
def test_off_means_no_limit(client, auth_headers):
    ada = auth_headers()
    assert {client.get("/todos", headers=ada).status_code for _ in range(30)} == {200}


def test_bad_credentials_are_refused_before_they_count(client, auth_headers):
    ada = auth_headers()
    for _ in range(5):
        assert (
            client.get("/todos", headers={"Authorization": "Bearer tdk_wrong"}).status_code == 401
        )
    assert client.get("/todos", headers=ada).status_code == 200


def test_answers_say_how_much_of_the_allowance_is_left_across_operations(client, auth_headers):
    ada = auth_headers()
    listed = client.get("/todos", headers=ada)
    added = client.post("/todos", json={"title": "Buy milk"}, headers=ada)

    assert listed.headers["X-RateLimit-Limit"] == added.headers["X-RateLimit-Limit"] == "3"
    # One allowance for every operation of a credential.
    assert (listed.headers["X-RateLimit-Remaining"], added.headers["X-RateLimit-Remaining"]) == (
        "2",
        "1",
    )
    assert int(added.headers["X-RateLimit-Reset"]) > 0


@pytest.mark.parametrize("app_settings", [{"API_RATE_LIMIT": "off"}], indirect=True)
def test_with_the_limit_off_answers_carry_no_allowance(client, auth_headers):
    ada = auth_headers()
    assert "X-RateLimit-Limit" not in client.get("/todos", headers=ada).headers


def test_retry_after_is_only_where_a_caller_must_wait(app, client, auth_headers):
    # Retry-After tells a client to wait; on an answer that succeeded it would only slow a
    # client that honours it.
    ada = auth_headers()
    listed = client.get("/todos", headers=ada)
    called = client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={**auth_headers(via="mcp"), "Accept": "application/json"},
    )
    refused = [client.get("/todos", headers=ada) for _ in range(3)][-1]

    assert listed.status_code == 200 and "Retry-After" not in listed.headers
    assert listed.headers["X-RateLimit-Remaining"] == "2"
    assert called.status_code == 200 and "Retry-After" not in called.headers
    assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
