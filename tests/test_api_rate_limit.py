"""API_RATE_LIMIT: per credential, not per address, with a JSON 429 and Retry-After."""

from __future__ import annotations

import pytest

from tests.account_helpers import make_account, make_key


@pytest.fixture
def app_settings(request) -> dict:
    return {
        "ACTION_AUTH": "apikey",
        "API_RATE_LIMIT": "3 per minute",
        **getattr(request, "param", {}),
    }


def bearer_for(app, email: str) -> dict:
    with app.app_context():
        _, key = make_key(make_account(email))
    return {"Authorization": f"Bearer {key}"}


def test_each_key_has_its_own_allowance(app, client):
    ada, bob = bearer_for(app, "ada@example.com"), bearer_for(app, "bob@example.com")
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
        from app.extensions import db
        from app.todos.models import Todo

        assert db.session.query(Todo).count() == 0


@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": "none"}], indirect=True)
def test_without_credentials_the_demo_list_is_limited_per_address(client):
    assert [client.get("/todos").status_code for _ in range(4)] == [200, 200, 200, 429]
    other_address = client.get("/todos", environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert other_address.status_code == 200


@pytest.mark.parametrize("app_settings", [{"API_RATE_LIMIT": "off"}], indirect=True)
def test_off_means_no_limit(app, client):
    ada = bearer_for(app, "ada@example.com")
    assert {client.get("/todos", headers=ada).status_code for _ in range(30)} == {200}


def test_bad_credentials_are_refused_before_they_count(app, client):
    ada = bearer_for(app, "ada@example.com")
    for _ in range(5):
        assert (
            client.get("/todos", headers={"Authorization": "Bearer tdk_wrong"}).status_code == 401
        )
    assert client.get("/todos", headers=ada).status_code == 200


def test_answers_say_how_much_of_the_allowance_is_left_across_operations(app, client):
    ada = bearer_for(app, "ada@example.com")
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
def test_with_the_limit_off_answers_carry_no_allowance(app, client):
    ada = bearer_for(app, "ada@example.com")
    assert "X-RateLimit-Limit" not in client.get("/todos", headers=ada).headers
