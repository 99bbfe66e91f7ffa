"""ChatGPT calling with an API key, in each way the GPT editor sends one, against real gunicorn."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from tests.e2e.chatgpt import call
from tests.e2e.conftest import FLASK, REPO_ROOT, Server
from tests.e2e.test_action_flow import lint_for_gpt

EMAIL = "builder@example.com"


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


def issue_key(server: Server, *scopes: str) -> dict:
    flask_cli(
        server, "users", "create", EMAIL, "--password-stdin", stdin="a long enough password\n"
    )
    args = ["keys", "create", EMAIL, "--name", "Todo GPT", "--json"]
    for scope in scopes:
        args += ["--scope", scope]
    return json.loads(flask_cli(server, *args))


@pytest.mark.parametrize(
    ("kind", "header_for"),
    [
        ("bearer", lambda key: {"Authorization": f"Bearer {key}"}),
        ("custom", lambda key: {"X-Todo-Key": key}),
        # The editor sends Basic values as pasted: the key itself, or base64 of it.
        ("basic", lambda key: {"Authorization": f"Basic {key}"}),
        (
            "basic",
            lambda key: {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()},
        ),
    ],
)
def test_every_action_with_each_api_key_style(gunicorn_server, kind, header_for):
    server = gunicorn_server(
        ACTION_AUTH="apikey", API_KEY_AUTH_TYPE=kind, API_KEY_HEADER="X-Todo-Key"
    )
    spec = server.client.get(f"{server.url}/openapi.json").json()
    lint_for_gpt(spec)
    (scheme,) = spec["components"]["securitySchemes"].values()
    if kind == "custom":
        assert scheme == {"type": "apiKey", "in": "header", "name": "X-Todo-Key"}
    else:
        assert scheme == {"type": "http", "scheme": kind}

    key = issue_key(server)
    assert key["key"].startswith(key["prefix"])
    auth = header_for(key["key"])

    assert call(server, "GET", "/todos").status_code == 401
    added = call(server, "POST", "/todos", auth, json={"title": "Call the bank"})
    assert added.status_code == 201, added.text
    todo_id = added.json()["id"]
    assert [t["id"] for t in call(server, "GET", "/todos", auth).json()["todos"]] == [todo_id]
    assert call(server, "GET", f"/todos/{todo_id}", auth).json()["title"] == "Call the bank"
    assert (
        call(server, "PATCH", f"/todos/{todo_id}", auth, json={"notes": "before 5pm"}).json()[
            "notes"
        ]
        == "before 5pm"
    )
    assert call(server, "DELETE", f"/todos/{todo_id}", auth).status_code == 204

    flask_cli(server, "keys", "revoke", key["prefix"])
    refused = call(server, "GET", "/todos", auth)
    assert refused.status_code == 401
    assert "WWW-Authenticate" in refused.headers


def test_a_read_only_key_cannot_change_anything(gunicorn_server):
    server = gunicorn_server(ACTION_AUTH="apikey")
    key = issue_key(server, "todos:read")
    auth = {"Authorization": f"Bearer {key['key']}"}
    assert call(server, "GET", "/todos", auth).status_code == 200
    refused = call(server, "POST", "/todos", auth, json={"title": "nope"})
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
