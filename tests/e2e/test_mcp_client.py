"""The official MCP SDK client against real gunicorn (2 workers), in both protocol eras: the
tools an MCP client such as ChatGPT sees and calls, on the same data as the REST API."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx2
import pytest
import requests
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from app.audience import mcp_resource
from app.resources import all_operations
from tests.e2e.chatgpt import server_database
from tests.e2e.conftest import E2E_PUBLIC_URL, Server
from tests.factories import make_token, make_user

MODES = ["auto", "legacy"]


def tokens(server: Server) -> tuple[str, str, str]:
    """Ada's access tokens: for the REST API (her GPT action's), and for the MCP endpoint one
    with every scope and one that may only read."""
    with server_database(server):
        user = make_user("ada@example.com")
        for_mcp = mcp_resource()
        return (
            make_token(user),
            make_token(user, resource=for_mcp),
            make_token(user, ["todos:read"], resource=for_mcp),
        )


def run(server: Server, token: str, mode: str, steps) -> Any:
    """`steps(client)` in an MCP session of the SDK's client that sends `token`."""

    async def main():
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(headers=headers, timeout=10) as http:
            transport = streamable_http_client(f"{server.url}/mcp", http_client=http)
            async with Client(transport, mode=mode) as client:
                return await steps(client)

    return anyio.run(main)


@pytest.mark.parametrize("mode", MODES)
def test_every_tool_over_mcp_on_the_same_data_as_the_api(oauth_server, mode):
    rest_token, token, read_only = tokens(oauth_server)
    rest = {"Authorization": f"Bearer {rest_token}"}
    from_rest = oauth_server.client.post(
        f"{oauth_server.url}/todos", json={"title": "From the action"}, headers=rest
    ).json()

    async def steps(client: Client) -> dict:
        # auto speaks the stateless 2026-07-28 revision; legacy the initialize handshake.
        assert (client.session.protocol_version == "2026-07-28") == (mode == "auto")
        listed = await client.list_tools()
        tools = {tool.name: tool for tool in listed.tools}
        assert set(tools) == {operation.name for _, operation in all_operations()}
        for _, operation in all_operations():
            tool = tools[operation.name]
            hints = tool.annotations
            assert None not in (hints.read_only_hint, hints.destructive_hint, hints.open_world_hint)
            assert tool.output_schema["type"] == "object"
            expected = "oauth2" if operation.scopes else "noauth"
            assert tool.meta["securitySchemes"][0]["type"] == expected
        assert tools["list_todos"].annotations.read_only_hint is True
        assert tools["delete_todo"].annotations.destructive_hint is True

        seen = await client.call_tool("list_todos", {})
        assert [t["title"] for t in seen.structured_content["todos"]] == ["From the action"]
        added = await client.call_tool("add_todo", {"title": "From MCP", "notes": "n"})
        assert not added.is_error
        todo_id = added.structured_content["id"]
        got = await client.call_tool("get_todo", {"todo_id": todo_id})
        assert got.structured_content["notes"] == "n"
        done = await client.call_tool("update_todo", {"todo_id": todo_id, "done": True})
        assert done.structured_content["done"] is True
        gone = await client.call_tool("delete_todo", {"todo_id": from_rest["id"]})
        assert not gone.is_error
        missing = await client.call_tool("get_todo", {"todo_id": from_rest["id"]})
        assert missing.is_error and "No todo with id" in missing.content[0].text
        return added.structured_content

    added = run(oauth_server, token, mode, steps)
    listed = oauth_server.client.get(
        f"{oauth_server.url}/todos", params={"status": "all"}, headers=rest
    ).json()
    [todo] = listed["todos"]
    assert todo == {**added, "done": True, "updated_at": todo["updated_at"]}

    async def write(client: Client):
        return await client.call_tool("add_todo", {"title": "Not allowed"})

    refused = run(oauth_server, read_only, mode, write)
    assert refused.is_error
    [challenge] = refused.meta["mcp/www_authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="todos:write"' in challenge
    # Each request of the session went through the access log with its request id.
    assert "POST /mcp HTTP/1.1" in oauth_server.wait_for_log("POST /mcp")
    assert "request_id=-" not in oauth_server.wait_for_log("POST /mcp")


def test_without_a_token_the_client_learns_where_to_sign_in(oauth_server):
    """With nothing public, from the 401 to any request; with a public operation, the tools
    are open to anyone and a protected one answers with the challenge in its result, which is
    where ChatGPT reads it."""
    metadata_url = f"{E2E_PUBLIC_URL}/.well-known/oauth-protected-resource/mcp"
    headers = {"Accept": "application/json, text/event-stream"}
    response = requests.post(
        f"{oauth_server.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers=headers,
        timeout=5,
    )
    if any(operation.public for _, operation in all_operations()):
        assert response.status_code == 200
        protected = next(operation for _, operation in all_operations() if not operation.public)
        called = requests.post(
            f"{oauth_server.url}/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": protected.name, "arguments": {}},
            },
            headers=headers,
            timeout=5,
        ).json()["result"]
        assert called["isError"] is True
        (challenge,) = called["_meta"]["mcp/www_authenticate"]
    else:
        assert response.status_code == 401
        challenge = response.headers["WWW-Authenticate"]
    assert f'resource_metadata="{metadata_url}"' in challenge
    metadata = requests.get(
        f"{oauth_server.url}/.well-known/oauth-protected-resource/mcp", timeout=5
    ).json()
    issuer = requests.get(
        f"{oauth_server.url}/.well-known/oauth-authorization-server", timeout=5
    ).json()["issuer"]
    assert metadata["authorization_servers"] == [issuer]
    assert metadata["resource"] == f"{E2E_PUBLIC_URL}/mcp"


def test_get_answers_405_at_once_and_a_foreign_origin_403(oauth_server):
    _, token, _ = tokens(oauth_server)
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    started = time.monotonic()
    response = requests.get(f"{oauth_server.url}/mcp", headers=headers, timeout=1)
    assert response.status_code == 405
    assert time.monotonic() - started < 1
    foreign = requests.post(
        f"{oauth_server.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={**headers, "Accept": "application/json", "Origin": "https://evil.example"},
        timeout=5,
    )
    assert foreign.status_code == 403
