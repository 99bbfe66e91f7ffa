"""Two app instances on one PostgreSQL database, as two dynos or machines of one app run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import TEST_DATABASE_URL
from tests.e2e.chatgpt import CALLBACK, browser, call, exchange, seed, sign_in, token_request
from tests.e2e.conftest import module_servers, reuse
from tests.oauth_helpers import bearer

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="PostgreSQL only: set TEST_DATABASE_URL (.ci/run does)"
)

ADDS_PER_INSTANCE = 25


@pytest.fixture(scope="module")
def shared_instances(e2e_template, tmp_path_factory):
    oauth = {"ACTION_AUTH": "oauth"}
    with module_servers(e2e_template, tmp_path_factory, oauth, oauth) as servers:
        yield servers


@pytest.fixture
def instances(request, shared_instances):
    """Two instances of one app (same database and SECRET_KEY), emptied for each test."""
    reuse(request, *shared_instances)
    return shared_instances


def test_a_code_from_one_instance_is_redeemed_at_the_other(instances):
    one, two = instances
    credentials = seed(one, "ada@example.com")
    # The browser signs in at one instance; ChatGPT's token request lands on the other.
    code = sign_in(one, browser(one), credentials, "ada@example.com")
    tokens = exchange(two, credentials, code, "default_post")
    for server in (one, two):
        assert call(server, "GET", "/todos", bearer(tokens["access_token"])).status_code == 200
    refreshed = token_request(
        one, credentials, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    new_access = refreshed.json()["access_token"]
    assert call(two, "GET", "/todos", bearer(new_access)).status_code == 200

    # The code is spent on every instance, and replaying it ends what it gave, everywhere.
    replay = token_request(
        one,
        credentials,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
    )
    assert replay.status_code == 400, replay.text
    for server in (one, two):
        for token in (tokens["access_token"], new_access):
            assert call(server, "GET", "/todos", bearer(token)).status_code == 401


def test_concurrent_adds_and_updates_from_both_instances_lose_nothing(instances):
    one, two = instances
    credentials = seed(one, "ada@example.com")
    auth = bearer(
        exchange(
            one,
            credentials,
            sign_in(one, browser(one), credentials, "ada@example.com"),
            "default_post",
        )["access_token"]
    )

    def add(job: tuple) -> int:
        server, n = job
        response = call(server, "POST", "/todos", auth, json={"title": f"{server.url} #{n}"})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    jobs = [(server, n) for n in range(ADDS_PER_INSTANCE) for server in (one, two)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(add, jobs))
    assert len(set(ids)) == 2 * ADDS_PER_INSTANCE

    # Each todo gets `done` from one instance and `notes` from the other, at the same time.
    def update(job: tuple) -> None:
        server, todo_id, change = job
        response = call(server, "PATCH", f"/todos/{todo_id}", auth, json=change)
        assert response.status_code == 200, response.text

    updates = []
    for todo_id in ids:
        updates.append((one, todo_id, {"done": True}))
        updates.append((two, todo_id, {"notes": f"noted {todo_id}"}))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(update, updates))

    seen = {}
    cursor = None
    while True:
        params = {"status": "all", "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = call(two, "GET", "/todos", auth, params=params).json()
        seen.update({todo["id"]: todo for todo in page["todos"]})
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert all(todo["done"] for todo in seen.values())
    assert all(todo["notes"] == f"noted {todo_id}" for todo_id, todo in seen.items())
