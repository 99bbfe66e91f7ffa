"""The API against the spec it serves, by schemathesis, in every auth mode: generated requests
that the spec calls valid must be accepted and those it calls invalid refused, with a 4xx in the
documented envelope, never a 500, and every response as documented (all of schemathesis's
checks). Then sequences of calls that follow the spec's links (addTodo's id into getTodo,
updateTodo, deleteTodo).

Bounded and repeatable: a fixed number of examples, derandomized, no example database.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings

MODES = {
    "none": {"ACTION_AUTH": "none"},
    "bearer": {"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "bearer"},
    "basic": {"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "basic"},
    "custom": {"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "custom"},
    "oauth": {"ACTION_AUTH": "oauth"},
}
BOUNDED = settings(
    max_examples=15,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def app_settings(mode: str) -> dict:
    # Thousands of calls from one key within a minute are the test, not an abuse.
    return {**MODES[mode], "API_RATE_LIMIT": "off"}


@pytest.fixture
def credentials(mode: str, auth_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    """What ChatGPT sends in this mode (README, Authentication)."""
    if mode == "none":
        return {}
    if mode == "oauth":
        return auth_headers(via="token")
    key = auth_headers()["Authorization"].removeprefix("Bearer ")
    if mode == "basic":
        return {"Authorization": f"Basic {key}"}
    if mode == "custom":
        return {"X-API-Key": key}
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def served_spec(app: Flask, credentials: dict[str, str]):
    spec = schemathesis.openapi.from_wsgi("/openapi.json", app)
    if credentials:
        # As an auth provider, so that schemathesis knows them for valid and checks that the
        # API refuses a request without them or with made-up ones.
        @spec.auth()
        class Credentials:
            def get(self, case, context):
                return credentials

            def set(self, case, data, context):
                case.headers = {**(case.headers or {}), **data}

    return spec


schema = schemathesis.pytest.from_fixture("served_spec")


@schema.parametrize()
@BOUNDED
def test_each_operation_meets_the_spec(case):
    case.call_and_validate()


def test_linked_calls_meet_the_spec(served_spec):
    served_spec.as_state_machine().run(
        settings=settings(BOUNDED, max_examples=10, stateful_step_count=6)
    )
