"""Log-in and sign-up limits under real gunicorn: exact across every worker and instance.

Two instances of two workers each on one database, and the attempts alternate between the
instances, so consecutive attempts are always answered by different processes. Counted in each
process's memory, a limit would let through as many attempts as there are processes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from app.attempts import LOGIN_ACCOUNT_LIMIT, SIGNUP_ADDRESS_LIMIT
from tests.browser import csrf_token
from tests.e2e.chatgpt import browser, server_database
from tests.e2e.conftest import Server, module_servers, reuse
from tests.factories import PASSWORD, make_user

# The first (per minute) of each.
LOG_INS = int(LOGIN_ACCOUNT_LIMIT.split()[0])
SIGN_UPS = int(SIGNUP_ADDRESS_LIMIT.split()[0])


@pytest.fixture(scope="module")
def shared_instances(e2e_template, tmp_path_factory):
    two_workers = {"WEB_CONCURRENCY": "2"}
    with module_servers(e2e_template, tmp_path_factory, two_workers, two_workers) as servers:
        yield servers


@pytest.fixture
def instances(request, shared_instances) -> list[Server]:
    reuse(request, *shared_instances)
    return shared_instances


def _post(user, server: Server, path: str, data: dict):
    return user.post(
        f"{server.url}{path}",
        data=data,
        # Pages compare the Referer with the origin the router reports; a new connection
        # each time, so no worker keeps the browser to itself.
        headers={"Referer": f"https://{urlsplit(server.url).netloc}/", "Connection": "close"},
        allow_redirects=False,
    )


def test_the_log_in_limit_is_exact_across_workers_and_instances(instances):
    one, two = instances
    with server_database(one):
        make_user("ada@example.com")
    stranger = browser(one)
    token = csrf_token(stranger.get(f"{one.url}/login").text)
    guess = {"csrf_token": token, "email": "ada@example.com", "password": "wrong password!"}

    answers = [_post(stranger, instances[i % 2], "/login", guess) for i in range(LOG_INS + 1)]

    assert [r.status_code for r in answers] == [401] * LOG_INS + [429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    right = {**guess, "password": PASSWORD}
    assert _post(stranger, two, "/login", right).status_code == 429
    # The owner, at another address, is not locked out by the stranger's guesses.
    owner = browser(two)
    owner.headers["X-Forwarded-For"] = "198.51.100.23"
    token = csrf_token(owner.get(f"{two.url}/login").text)
    logged_in = _post(owner, one, "/login", {**right, "csrf_token": token})
    assert logged_in.status_code == 302
    assert logged_in.headers["Location"] == "/account"


def test_the_sign_up_limit_is_exact_across_workers_and_instances(instances):
    one, _ = instances
    person = browser(one)
    token = csrf_token(person.get(f"{one.url}/signup").text)

    answers = [
        _post(
            person,
            instances[i % 2],
            "/signup",
            {
                "csrf_token": token,
                "email": f"person{i}@example.com",
                "password": "a long enough password",
                "confirm": "a long enough password",
            },
        )
        for i in range(SIGN_UPS + 1)
    ]

    assert [r.status_code for r in answers] == [302] * SIGN_UPS + [429]
    assert int(answers[-1].headers["Retry-After"]) > 0
