"""The views MCP Apps hosts show (app/mcp/apps.py): the ui:// resources listed and read, the
keys of the extension and ChatGPT's on them and on the tools, and what hosts without the
extension still get. Each declared widget is checked, so a team's widget is too."""

from __future__ import annotations

import json
import re

import pytest

from app import resources
from app.config import project
from app.operations import Resource, Widget
from app.resources import all_operations
from tests.test_mcp import CLIENT_INFO, PROTOCOL, call_tool, rpc

MIME_TYPE = "text/html;profile=mcp-app"
EXTENSION = "io.modelcontextprotocol/ui"
EMPTY_CSP = {"connectDomains": [], "resourceDomains": []}
MODERN = "2026-07-28"
# What would reach outside a document: a URL in an attribute or in CSS, a script import, or a
# request from script.
FETCHES = (
    r"""(src|href)\s*=\s*["']?(https?:)?//|url\(|fetch\(|import\(|\bimport\s"""
    r"|WebSocket|XMLHttpRequest|EventSource"
)


@pytest.fixture
def token(auth_headers):
    return auth_headers(via="mcp")


def widgets() -> dict[str, Widget]:
    """The declared widgets, by the name of the tool whose result shows each."""
    return {
        operation.name: operation.widget for _, operation in all_operations() if operation.widget
    }


def current_uri(widget: Widget) -> str:
    return f"ui://{project().name}/{widget.name}-v{widget.version}.html"


def listed(client, token) -> dict[str, dict]:
    response = rpc(client, "resources/list", {}, token)
    assert response.status_code == 200, response.text
    return {resource["uri"]: resource for resource in response.json["result"]["resources"]}


def read(client, token, uri: str):
    return rpc(client, "resources/read", {"uri": uri}, token)


def tools(client, token) -> dict[str, dict]:
    listing = rpc(client, "tools/list", {}, token).json["result"]["tools"]
    return {tool["name"]: tool for tool in listing}


def test_the_todo_list_is_a_declared_widget():
    assert widgets()["list_todos"].name == "todo-list"


def test_the_server_announces_the_extension_and_resources(client, token):
    # Where the protocol has a place for it: capabilities.extensions is a 2026-07-28 field,
    # which the SDK leaves out of the initialize handshake's older wire.
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    headers = {**token, "MCP-Protocol-Version": MODERN, "Mcp-Method": "server/discover"}
    discovered = rpc(client, "server/discover", {"_meta": meta}, headers).json["result"]
    assert discovered["capabilities"]["extensions"] == {EXTENSION: {}}
    assert "resources" in discovered["capabilities"]

    handshake = rpc(
        client,
        "initialize",
        {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": CLIENT_INFO},
        token,
    )
    assert "resources" in handshake.json["result"]["capabilities"]


def test_each_widget_is_listed_once_at_its_current_uri(client, token):
    shown = listed(client, token)
    assert set(shown) == {current_uri(widget) for widget in widgets().values()}
    for widget in widgets().values():
        resource = shown[current_uri(widget)]
        assert resource["mimeType"] == MIME_TYPE
        assert resource["name"] == widget.name
        assert resource["description"] == widget.description


def test_a_widget_reads_as_one_html_document_with_its_keys_as_listed(client, token):
    shown = listed(client, token)
    for widget in widgets().values():
        uri = current_uri(widget)
        (content,) = read(client, token, uri).json["result"]["contents"]
        assert content["uri"] == uri
        assert content["mimeType"] == MIME_TYPE
        assert content["text"].lower().startswith("<!doctype html>")
        assert content["_meta"] == shown[uri]["_meta"]
        # Whole: nothing is fetched from anywhere (the CSP declares no domain).
        assert not re.search(FETCHES, content["text"])


def test_a_widgets_keys_are_the_extensions_and_chatgpts(client, token):
    for resource in listed(client, token).values():
        meta = resource["_meta"]
        assert meta["ui"] == {"csp": EMPTY_CSP, "prefersBorder": True}
        assert meta["openai/widgetCSP"] == {"connect_domains": [], "resource_domains": []}
        assert meta["openai/widgetPrefersBorder"] is True
        assert meta["openai/widgetDescription"]
        # PUBLIC_URL here is a .test name, which ChatGPT could not reach.
        assert "openai/widgetDomain" not in meta


@pytest.mark.parametrize("app_settings", [{"PUBLIC_URL": "https://todo.example.com"}])
def test_the_widget_domain_is_the_public_origin_when_there_is_one(client, token):
    for resource in listed(client, token).values():
        assert resource["_meta"]["openai/widgetDomain"] == "https://todo.example.com"
        assert "domain" not in resource["_meta"]["ui"]


def test_a_tool_that_shows_a_widget_names_it_in_every_key(client, token):
    listed_tools = tools(client, token)
    for name, widget in widgets().items():
        meta = listed_tools[name]["_meta"]
        uri = current_uri(widget)
        assert meta["ui"] == {"resourceUri": uri}
        assert meta["ui/resourceUri"] == uri
        assert meta["openai/outputTemplate"] == uri
        assert 0 < len(meta["openai/toolInvocation/invoking"]) <= 64
        assert 0 < len(meta["openai/toolInvocation/invoked"]) <= 64


def test_every_tool_may_be_called_from_a_widget_and_writes_show_none(client, token):
    shows = set(widgets())
    for _, operation in all_operations():
        meta = tools(client, token)[operation.name]["_meta"]
        assert meta["openai/widgetAccessible"] is True
        # The default visibility, model and app: no key narrows it.
        assert "visibility" not in meta.get("ui", {})
        assert "domain" not in meta.get("ui", {})
        if operation.name not in shows:
            assert "ui" not in meta and "openai/outputTemplate" not in meta
        if operation.consequential:
            assert operation.name not in shows


def test_hosts_without_the_extension_get_the_same_content(client, token, api):
    """Nothing is gated on the extension: a client that announces it (per request, in the
    2026-07-28 era) and one that does not get the same result, its data also as JSON text."""
    api.post("/todos", json={"title": "Renew passport"})
    for name in widgets():
        results = []
        for extensions in ({EXTENSION: {"mimeTypes": [MIME_TYPE]}}, None):
            capabilities = {"extensions": extensions} if extensions else {}
            meta = {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
                "io.modelcontextprotocol/clientCapabilities": capabilities,
            }
            headers = {**token, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call"}
            response = rpc(
                client,
                "tools/call",
                {"name": name, "arguments": {}, "_meta": meta},
                {**headers, "Mcp-Name": name},
            )
            assert response.status_code == 200, response.text
            result = response.json["result"]
            results.append((result["content"], result["structuredContent"]))
        legacy = call_tool(client, name, {}, token)
        results.append((legacy["content"], legacy["structuredContent"]))
        assert results[0] == results[1] == results[2]
        (text,) = results[0][0]
        assert json.loads(text["text"]) == results[0][1]


def test_an_unknown_uri_is_an_invalid_params_error(client, token):
    response = read(client, token, f"ui://{project().name}/nothing-v1.html")
    assert response.json["error"]["code"] == -32602
    assert "Unknown resource" in response.json["error"]["message"]


# A resource of the test's own, with a widget at its third version.
notes = Resource("notes", description="Notes.", scopes={"notes:read": "See notes"}, stored="")
NOTE_BOARD = Widget(
    "note-board",
    version=3,
    template="widgets/todo-list.html",
    description="Notes on a board.",
    invoking="Fetching notes…",
    invoked="Notes",
)


@notes.operation(
    "GET", "/notes", operation_id="getNotes", consequential=False, scopes=[], widget=NOTE_BOARD
)
def list_notes(caller) -> None:
    """List notes

    Lists notes.
    """


@pytest.fixture
def with_notes(monkeypatch) -> None:
    # Set before the app is built, which reads the resources.
    monkeypatch.setattr(resources, "RESOURCES", (*resources.RESOURCES, notes))


def test_older_versions_of_a_widget_still_read_as_the_current_one(with_notes, client, token):
    current = f"ui://{project().name}/note-board-v3.html"
    assert current in listed(client, token)
    assert f"ui://{project().name}/note-board-v2.html" not in listed(client, token)
    (expected,) = read(client, token, current).json["result"]["contents"]
    for version in (1, 2):
        uri = f"ui://{project().name}/note-board-v{version}.html"
        (content,) = read(client, token, uri).json["result"]["contents"]
        assert content["uri"] == uri
        assert content["text"] == expected["text"]
    assert "error" in read(client, token, f"ui://{project().name}/note-board-v4.html").json


def test_invocation_texts_longer_than_chatgpt_shows_are_refused():
    with pytest.raises(ValueError, match="64 characters"):
        Widget("w", 1, "widgets/todo-list.html", "d", invoking="x" * 65, invoked="done")
