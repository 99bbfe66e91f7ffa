"""The MCP endpoint in-process: what an MCP client meets at the HTTP and JSON-RPC level.

The SDK's own client against real gunicorn is in tests/e2e/test_mcp_client.py.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import marshmallow as ma
import pytest
import sqlalchemy as sa

from app import resources
from app.audience import mcp_resource
from app.config import project
from app.extensions import db
from app.models import OAuthClient
from app.operations import Resource
from app.resources import RESOURCES, all_operations, all_scopes
from app.todos.models import Todo
from tests.browser import log_in, post_form
from tests.conftest import TEST_PUBLIC_URL, build_app, spec_path
from tests.e2e.apps import protected_only
from tests.factories import make_client, make_token, make_user
from tests.oauth_helpers import exchange, get_code

PROTOCOL = "2025-06-18"
JSON_RPC = {
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": PROTOCOL,
}
CLIENT_INFO = {"name": "test", "version": "1"}
METADATA = f"{TEST_PUBLIC_URL}/.well-known/oauth-protected-resource/mcp"


def rpc(client, method: str, params: dict | None = None, headers: dict | None = None):
    message = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        message["params"] = params
    return client.post("/mcp", json=message, headers={**JSON_RPC, **(headers or {})})


def call_tool(client, name: str, arguments: dict, headers: dict) -> dict:
    response = rpc(client, "tools/call", {"name": name, "arguments": arguments}, headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["result"]


@pytest.fixture
def token(auth_headers):
    return auth_headers(via="mcp")


def test_the_handshake_answers_json_with_the_request_id(client, token):
    response = rpc(
        client,
        "initialize",
        {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": CLIENT_INFO},
        {**token, "X-Request-ID": "abc-123"},
    )
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json["result"]["protocolVersion"] == PROTOCOL
    # The server says which release it is, as pyproject.toml declares it, and its title.
    assert response.json["result"]["serverInfo"] == {
        "name": project().name,
        "version": project().version,
        "title": project().title,
    }
    assert "Mcp-Session-Id" not in response.headers
    assert response.headers["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_are_refused_before_the_sdk(client, token, method):
    response = client.open("/mcp", method=method, headers={**JSON_RPC, **token})
    assert response.status_code == 405
    assert response.json["error"]["data"]["code"] == 405


def test_a_web_page_on_another_site_is_refused(client, token):
    refused = rpc(client, "tools/list", headers={**token, "Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert refused.json["error"]["data"]["code"] == 403
    own = rpc(client, "tools/list", headers={**token, "Origin": TEST_PUBLIC_URL})
    assert own.status_code == 200


@pytest.fixture
def nothing_public(monkeypatch) -> None:
    """The declared resources without their public operations, if they have any: a client
    without a token then has nothing to call (tests/test_operations.py has one that does).
    Set before the app is built, which reads the resources."""
    monkeypatch.setattr(resources, "RESOURCES", protected_only())


def test_without_a_token_the_401_names_the_metadata_and_scopes(nothing_public, client):
    response = rpc(client, "tools/list")
    assert response.status_code == 401
    assert response.json["error"]["code"] == -32600
    assert response.json["error"]["data"]["code"] == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{METADATA}"' in challenge
    assert f'scope="{" ".join(all_scopes())}"' in challenge


@pytest.mark.parametrize("bad", ["invalid", "apikey"])
def test_an_api_key_or_a_bad_token_gets_invalid_token(client, auth_headers, bad):
    headers = auth_headers(via="key") if bad == "apikey" else {"Authorization": "Bearer nope"}
    response = rpc(client, "tools/list", headers=headers)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert f'resource_metadata="{METADATA}"' in response.headers["WWW-Authenticate"]


def test_a_token_of_a_gpt_actions_sign_in_is_refused_here(client, auth_headers):
    # Bound to no resource (RFC 8707), as a GPT action's sign-in is: a token for the REST API.
    response = rpc(client, "tools/list", headers=auth_headers(via="token"))

    assert response.status_code == 401
    assert "not for this MCP server" in response.json["error"]["message"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert f'resource_metadata="{METADATA}"' in response.headers["WWW-Authenticate"]


def test_a_token_for_this_mcp_server_is_refused_by_the_api(client, auth_headers):
    response = client.get("/todos", headers=auth_headers(via="mcp"))

    assert response.status_code == 401
    assert "another resource" in response.json["message"]


@pytest.mark.parametrize("path", ["/mcp", ""])
def test_protected_resource_metadata(client, path):
    issuer = client.get("/.well-known/oauth-authorization-server").json["issuer"]
    doc = client.get(f"/.well-known/oauth-protected-resource{path}").json
    assert doc["resource"] == f"{TEST_PUBLIC_URL}/mcp"
    assert doc["authorization_servers"] == [issuer]
    assert doc["scopes_supported"] == list(all_scopes())
    assert doc["bearer_methods_supported"] == ["header"]


def test_tools_are_the_declared_operations_as_the_spec_describes_them(client, token):
    spec = client.get("/openapi.json").json
    tools = {t["name"]: t for t in rpc(client, "tools/list", headers=token).json["result"]["tools"]}
    assert set(tools) == {operation.name for _, operation in all_operations()}
    # The example's, as ChatGPT should see them; every tool's follow the same rule below.
    todo_hints = {
        "list_todos": (True, False),
        "get_todo": (True, False),
        "add_todo": (False, False),
        "update_todo": (False, True),
        "delete_todo": (False, True),
    }
    for _, operation in all_operations():
        tool = tools[operation.name]
        published = spec["paths"][spec_path(operation.path)][operation.method.lower()]
        assert tool["title"] == published["summary"]
        assert tool["description"] == published["description"]
        annotations = tool["annotations"]
        # Reads are read-only; of the changes, only adding (a POST) destroys nothing.
        hints = (annotations["readOnlyHint"], annotations["destructiveHint"])
        assert hints == (not operation.consequential, operation.method not in ("GET", "POST"))
        assert hints == todo_hints.get(tool["name"], hints)
        assert annotations["openWorldHint"] is False
        assert tool["_meta"]["securitySchemes"] == (
            [{"type": "oauth2", "scopes": list(operation.scopes)}]
            if operation.scopes
            else [{"type": "noauth"}]
        )
        parameters = {p["name"] for p in published.get("parameters", ())}
        body = published.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            name = body["schema"]["$ref"].rsplit("/", 1)[-1]
            parameters |= set(spec["components"]["schemas"][name]["properties"])
        assert set(tool["inputSchema"]["properties"]) == parameters
        assert tool["inputSchema"]["additionalProperties"] is False
        assert tool["outputSchema"]["type"] == "object"
    assert tools["get_todo"]["inputSchema"]["required"] == ["todo_id"]
    assert tools["add_todo"]["inputSchema"]["required"] == ["title"]
    assert tools["list_todos"]["outputSchema"]["properties"]["todos"]["items"]["properties"]["id"]


def test_tools_do_what_the_rest_api_does(app, client, token, auth_headers):
    rest = auth_headers(via="token")  # the same person's GPT action, signed in on its own
    added = call_tool(client, "add_todo", {"title": "Buy milk", "due": "2030-01-02"}, token)
    assert not added["isError"]
    todo = added["structuredContent"]
    assert json.loads(added["content"][0]["text"]) == todo
    assert client.get(f"/todos/{todo['id']}", headers=rest).json == todo

    changed = call_tool(client, "update_todo", {"todo_id": todo["id"], "done": True}, token)
    assert changed["structuredContent"]["done"] is True
    listed = call_tool(client, "list_todos", {"status": "done"}, token)
    assert [t["id"] for t in listed["structuredContent"]["todos"]] == [todo["id"]]
    got = call_tool(client, "get_todo", {"todo_id": todo["id"]}, token)
    assert got["structuredContent"]["title"] == "Buy milk"
    deleted = call_tool(client, "delete_todo", {"todo_id": todo["id"]}, token)
    assert deleted == {**deleted, "isError": False, "structuredContent": {}}
    assert client.get(f"/todos/{todo['id']}", headers=rest).status_code == 404


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("get_todo", {"todo_id": 999}, "No todo with id 999."),
        ("get_todo", {"todo_id": "one"}, "Invalid input. todo_id: Not a valid integer."),
        ("get_todo", {}, "Invalid input. todo_id: Missing data for required field."),
        ("add_todo", {}, "Invalid input. title: Missing data for required field."),
        ("add_todo", {"title": "x", "colour": "red"}, "Invalid input. colour: Unknown field."),
        ("list_todos", {"cursor": "bogus"}, "cursor is not one this API returned"),
        ("delete_todo", {"todo_id": 1, "x": 1}, "Invalid input. x: Unknown field."),
    ],
)
def test_bad_calls_are_tool_errors_with_clear_messages(client, token, name, arguments, message):
    result = call_tool(client, name, arguments, token)
    assert result["isError"] is True
    assert result["content"][0]["text"].startswith(message)


def test_an_unknown_tool_is_a_protocol_error(client, token):
    response = rpc(client, "tools/call", {"name": "drop_tables", "arguments": {}}, token)
    assert response.json["error"]["message"] == "Unknown tool: drop_tables"


def test_a_read_only_token_gets_the_scope_challenge_on_writes(app, client, auth_headers):
    read_only = auth_headers("todos:read", via="mcp")
    assert not call_tool(client, "list_todos", {}, read_only)["isError"]
    result = call_tool(client, "add_todo", {"title": "nope"}, read_only)
    assert result["isError"] is True
    [www_authenticate] = result["_meta"]["mcp/www_authenticate"]
    assert 'error="insufficient_scope"' in www_authenticate
    assert 'scope="todos:write"' in www_authenticate
    assert f'resource_metadata="{METADATA}"' in www_authenticate
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Todo)) == 0


def test_a_page_of_the_largest_todos_stays_under_chatgpts_limit(app, client, token):
    # Quotes and backslashes grow most: escaped once in the data, twice in its JSON text.
    title = '"\\' * 250
    for _ in range(3):
        call_tool(client, "add_todo", {"title": title, "notes": '"\\' * 2500}, token)
    response = rpc(client, "tools/call", {"name": "list_todos", "arguments": {}}, token)
    assert len(response.get_data(as_text=True)) < 100_000
    page = response.json["result"]["structuredContent"]
    assert len(page["todos"]) < 3 and page["next_cursor"]


def test_concurrent_calls_run_in_their_own_request_threads(app, token):
    # As many gunicorn threads as a burst brings call at once; each tool runs in the thread of
    # its request, as a REST call does, with no thread of its own to hand it to.
    before = {t.ident for t in threading.enumerate()}
    tool_threads: set[str] = set()

    def add(n: int) -> bool:
        result = call_tool(app.test_client(), "add_todo", {"title": f"Todo {n}"}, token)
        tool_threads.update(
            t.name for t in threading.enumerate() if t.ident not in before and t.daemon
        )
        return not result["isError"]

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(add, range(48)))
    assert not {name for name in tool_threads if "AnyIO" in name or "mcp" in name}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Todo)) == 48


class TestWithoutAuth:
    @pytest.fixture
    def app_settings(self) -> dict:
        return {"ACTION_AUTH": "none"}

    def test_tools_act_as_the_demo_user_as_the_api_does(self, client):
        tools = rpc(client, "tools/list").json["result"]["tools"]
        assert {tuple(map(str, t["_meta"]["securitySchemes"])) for t in tools} == {
            (str({"type": "noauth"}),)
        }
        added = call_tool(client, "add_todo", {"title": "shared"}, {})
        assert client.get("/todos").json["todos"] == [added["structuredContent"]]


class TestRateLimit:
    @pytest.fixture
    def app_settings(self) -> dict:
        return {"API_RATE_LIMIT": "2 per minute"}

    def test_mcp_calls_count_against_the_credentials_api_limit(self, client, token):
        assert rpc(client, "tools/list", headers=token).status_code == 200
        assert rpc(client, "tools/list", headers=token).status_code == 200
        refused = rpc(client, "tools/list", headers=token)
        assert refused.status_code == 429
        assert "Retry-After" in refused.headers


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"data": "x=1", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"data": "[" * 300_000, "content_type": "application/json"}, 413),
        ({"data": "{not json", "content_type": "application/json"}, 400),
        ({"json": [1, 2]}, 400),
    ],
)
def test_bad_bodies_get_a_4xx_in_json(client, token, body, status):
    response = client.post("/mcp", headers={**JSON_RPC, **token}, **body)
    assert response.status_code == status
    assert response.mimetype == "application/json"


@pytest.fixture
def database_not_migrated(app):
    """A database as an older release left it: at its first migration, without the todos table
    (renamed away, so a statement on it fails); both put back after the test."""

    def change(*statements: str) -> None:
        with app.app_context():
            for statement in statements:
                db.session.execute(sa.text(statement))
            db.session.commit()

    with app.app_context():
        current = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
    change(
        "ALTER TABLE todos RENAME TO todos_away", "UPDATE alembic_version SET version_num = '0001'"
    )
    yield
    change(
        "ALTER TABLE todos_away RENAME TO todos",
        f"UPDATE alembic_version SET version_num = '{current}'",
    )


def test_a_database_error_in_a_tool_is_a_tool_error_without_the_statement(
    client, token, database_not_migrated, caplog
):
    result = call_tool(client, "list_todos", {}, token)
    assert result["isError"] is True
    [text] = [c["text"] for c in result["content"]]
    assert text == "The database is unavailable; nothing was changed. Try again shortly."
    # The API's error envelope, as a REST caller gets it; no driver's words, no SQL.
    assert result["structuredContent"] == {
        "code": 503,
        "status": "Service Unavailable",
        "message": text,
    }
    # A missing table is what an unmigrated database looks like: the log says what to run.
    assert "database not migrated: it is at 0001" in caplog.text
    assert "run `flask --app app db upgrade`" in caplog.text
    assert "SELECT" not in caplog.text


class EchoSchema(ma.Schema):
    text = ma.fields.String(required=True, metadata={"description": "Any text."})


# A resource as a team would add one (docs/template.md), with no MCP code of its own.
echoes = Resource(
    "echoes",
    description="Echoes.",
    scopes={"echoes:use": "Hear your echoes"},
    stored="nothing",
)


@echoes.operation(
    "POST",
    "/echoes",
    operation_id="makeEcho",
    consequential=True,
    scopes=["echoes:use"],
    arguments=EchoSchema(),
    response=EchoSchema(),
)
def make_echo(caller, *, text: str) -> dict:
    """Echo a text

    Returns the text as it was sent.
    """
    return {"text": text}


@pytest.fixture
def echo_app(app, database_url, monkeypatch):
    """The app with the echoes resource added, on `app`'s database (emptied after the test)."""
    monkeypatch.setattr("app.resources.RESOURCES", (*RESOURCES, echoes))
    echo_app = build_app(database_url)
    yield echo_app
    with echo_app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_new_resource_gets_its_tools_from_its_declarations(echo_app):
    with echo_app.app_context():
        token = {"Authorization": f"Bearer {make_token(make_user(), resource=mcp_resource())}"}
    client = echo_app.test_client()
    tools = {t["name"]: t for t in rpc(client, "tools/list", headers=token).json["result"]["tools"]}
    tool = tools["make_echo"]
    assert tool["title"] == "Echo a text"
    assert tool["inputSchema"]["properties"]["text"]["description"] == "Any text."
    assert tool["_meta"]["securitySchemes"] == [{"type": "oauth2", "scopes": ["echoes:use"]}]
    assert tool["annotations"]["destructiveHint"] is False
    result = call_tool(client, "make_echo", {"text": "hello"}, token)
    assert result["structuredContent"] == {"text": "hello"}


CONNECTOR_CALLBACK = "https://chatgpt.com/connector/oauth/c_1a2b3c"


def test_a_connector_with_static_credentials_is_a_connected_app_disconnect_ends(app, client):
    with app.app_context():
        client_id, secret = make_client("ChatGPT app", gpt_ids=[])
        make_user("ada@example.com")
    added = app.test_cli_runner().invoke(
        args=["clients", "add-redirect", client_id, CONNECTOR_CALLBACK]
    )
    assert added.exit_code == 0, added.output
    # ChatGPT's sign-in for its connector: its callback, the MCP endpoint as resource.
    log_in(client)
    code = get_code(client, client_id, CONNECTOR_CALLBACK, resource=mcp_resource())
    tokens = exchange(
        app.test_client(),
        client_id,
        secret,
        code,
        redirect_uri=CONNECTOR_CALLBACK,
        resource=mcp_resource(),
    ).json
    token = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert "structuredContent" in call_tool(client, "list_todos", {}, token)

    account = client.get("/account").get_data(as_text=True)
    assert "ChatGPT app" in account
    with app.app_context():
        pk = db.session.scalar(sa.select(OAuthClient.id).where(OAuthClient.client_id == client_id))
    assert f'action="/account/apps/{pk}/disconnect"' in account
    assert post_form(client, f"/account/apps/{pk}/disconnect", page="/account").status_code == 302

    refused = rpc(client, "tools/list", {}, token)
    assert refused.status_code == 401
    assert "resource_metadata=" in refused.headers["WWW-Authenticate"]


# What a schema says of a value, which a tool and the spec must say alike.
SCHEMA_WORDS = (
    "type",
    "format",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "default",
    "description",
    "readOnly",
)


def _resolve(spec: dict, node):
    """A spec schema with its $refs replaced by what they name."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _resolve(spec, spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]])
        return {key: _resolve(spec, value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(spec, value) for value in node]
    return node


def _words(schema: dict) -> dict:
    return {word: schema[word] for word in SCHEMA_WORDS if word in schema}


@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": mode} for mode in ("oauth", "none")])
def test_every_tool_says_of_its_arguments_and_answer_what_the_spec_says(client, token):
    """The tools and the spec are made apart, from the same declarations; they must agree on
    every name, description, argument, required field, enum, pattern and bound."""
    spec = client.get("/openapi.json").json
    tools = {t["name"]: t for t in rpc(client, "tools/list", headers=token).json["result"]["tools"]}
    assert set(tools) == {operation.name for _, operation in all_operations()}
    for _, operation in all_operations():
        tool = tools[operation.name]
        published = spec["paths"][spec_path(operation.path)][operation.method.lower()]
        assert tool["title"] == published["summary"]
        assert tool["description"] == published.get("description", published["summary"])

        expected, required = {}, set()
        for parameter in published.get("parameters", ()):
            described = dict(parameter["schema"])
            if "description" in parameter:
                described["description"] = parameter["description"]
            expected[parameter["name"]] = _words(described)
            if parameter.get("required"):
                required.add(parameter["name"])
        body = published.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            schema = _resolve(spec, body["schema"])
            expected |= {name: _words(s) for name, s in schema["properties"].items()}
            required |= set(schema.get("required", ()))
        properties = tool["inputSchema"]["properties"]
        assert {name: _words(s) for name, s in properties.items()} == expected, operation.name
        assert set(tool["inputSchema"].get("required", ())) == required, operation.name

        success = published["responses"][str(operation.status)]
        answer = success.get("content", {}).get("application/json")
        if answer:
            assert tool["outputSchema"] == _resolve(spec, answer["schema"]), operation.name
        else:
            assert tool["outputSchema"]["properties"] == {}, operation.name
