"""ChatGPT calling with an API key, in each way the GPT editor sends one, against real gunicorn."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from app.extensions import db
from app.keys.service import revoke
from app.models import ApiKey
from tests.e2e.chatgpt import call, server_database
from tests.e2e.conftest import FLASK, REPO_ROOT, Server, module_servers, reuse
from tests.e2e.test_action_flow import EXPECTED_ACTIONS, lint_for_gpt, list_actions
from tests.factories import PASSWORD, make_key, make_user

EMAIL = "builder@example.com"
HEADER = "X-Todo-Key"


@pytest.fixture(scope="module")
def shared_apikey_server(e2e_template, tmp_path_factory):
    # Whatever API_KEY_AUTH_TYPE says (it picks the scheme the spec declares), the server takes
    # a key in every form; tests/test_spec.py checks the scheme of each type.
    settings = {"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "custom", "API_KEY_HEADER": HEADER}
    with module_servers(e2e_template, tmp_path_factory, settings) as (server,):
        yield server


@pytest.fixture
def apikey_server(request, shared_apikey_server: Server) -> Server:
    reuse(request, shared_apikey_server)
    return shared_apikey_server


def flask_cli(server: Server, *args: str, stdin: str | None = None) -> str:
    """An operator's command against the server's database, with the server's settings."""
    result = subprocess.run(
        [FLASK, "--app", "app", *args],
        cwd=REPO_ROOT,
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def issue_key(server: Server, *scopes: str) -> tuple[int, str]:
    """A key of a new account, made in the server's database: (id, the key)."""
    with server_database(server):
        return make_key(make_user(EMAIL), scopes or None)


def test_import_the_spec_declares_the_configured_api_key_scheme(apikey_server):
    spec = apikey_server.client.get(f"{apikey_server.url}/openapi.json").json()
    lint_for_gpt(spec)
    assert list_actions(spec) == EXPECTED_ACTIONS
    (scheme,) = spec["components"]["securitySchemes"].values()
    assert scheme == {"type": "apiKey", "in": "header", "name": HEADER}


@pytest.mark.parametrize(
    "header_for",
    [
        pytest.param(lambda key: {"Authorization": f"Bearer {key}"}, id="bearer"),
        pytest.param(lambda key: {HEADER: key}, id="custom"),
        # The editor sends Basic values as pasted: the key itself, or base64 of it.
        pytest.param(lambda key: {"Authorization": f"Basic {key}"}, id="basic"),
        pytest.param(
            lambda key: {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()},
            id="basic-base64",
        ),
    ],
)
def test_every_action_with_each_way_the_editor_sends_a_key(apikey_server, header_for):
    server = apikey_server
    key_id, key = issue_key(server)
    auth = header_for(key)

    assert call(server, "GET", "/todos").status_code == 401
    added = call(server, "POST", "/todos", auth, json={"title": "Call the bank"})
    assert added.status_code == 201, added.text
    todo_id = added.json()["id"]
    assert [t["id"] for t in call(server, "GET", "/todos", auth).json()["todos"]] == [todo_id]
    assert call(server, "GET", f"/todos/{todo_id}", auth).json()["title"] == "Call the bank"
    changed = call(server, "PATCH", f"/todos/{todo_id}", auth, json={"notes": "before 5pm"})
    assert changed.json()["notes"] == "before 5pm"
    assert call(server, "DELETE", f"/todos/{todo_id}", auth).status_code == 204

    with server_database(server):
        revoke(db.session.get(ApiKey, key_id))
    refused = call(server, "GET", "/todos", auth)
    assert refused.status_code == 401
    assert "WWW-Authenticate" in refused.headers


def test_an_operators_key_from_the_cli_works_until_revoked_with_the_cli(apikey_server):
    server = apikey_server
    flask_cli(server, "users", "create", EMAIL, "--password-stdin", stdin=f"{PASSWORD}\n")
    key = json.loads(flask_cli(server, "keys", "create", EMAIL, "--name", "Todo GPT", "--json"))
    assert key["key"].startswith(key["prefix"])
    auth = {"Authorization": f"Bearer {key['key']}"}
    assert call(server, "POST", "/todos", auth, json={"title": "Call the bank"}).status_code == 201

    flask_cli(server, "keys", "revoke", key["prefix"])
    refused = call(server, "GET", "/todos", auth)
    assert refused.status_code == 401
    assert "WWW-Authenticate" in refused.headers


def test_a_read_only_key_cannot_change_anything(apikey_server):
    server = apikey_server
    _, key = issue_key(server, "todos:read")
    auth = {"Authorization": f"Bearer {key}"}
    assert call(server, "GET", "/todos", auth).status_code == 200
    refused = call(server, "POST", "/todos", auth, json={"title": "nope"})
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
