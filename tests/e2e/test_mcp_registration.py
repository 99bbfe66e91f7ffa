"""ChatGPT's developer mode with no credentials given: the official MCP SDK client registers
itself, by dynamic client registration (RFC 7591) or with a client ID metadata document the
test serves over https, then signs in with PKCE and `resource` through the real pages, calls
every tool, refreshes its token and is disconnected, against real gunicorn (2 workers)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
import requests
import sqlalchemy as sa
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

from app.extensions import db
from app.models import User as Account
from tests.browser import csrf_token
from tests.e2e.chatgpt import browser, server_database
from tests.e2e.conftest import E2E_PUBLIC_URL, SIGN_IN_APP, Server
from tests.e2e.mcp_peer import CONNECTOR_CALLBACK, MCP_URL, Router, Storage, User
from tests.factories import PASSWORD, make_key, make_user
from tests.metadata_server import MetadataServer

TOOLS = {"list_todos", "add_todo", "get_todo", "update_todo", "delete_todo"}


def connector(server: Server, storage: Storage, user: User, **options) -> OAuthClientProvider:
    """ChatGPT's connector as the SDK plays it: its callback, the name it registers with."""
    return OAuthClientProvider(
        server_url=MCP_URL,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[CONNECTOR_CALLBACK], client_name="ChatGPT"
        ),
        storage=storage,
        redirect_handler=user.follow,
        callback_handler=user.answer,
        **options,
    )


def use_every_tool(server: Server, provider: OAuthClientProvider, mode: str) -> dict:
    async def main():
        async with httpx2.AsyncClient(
            auth=provider, mounts={E2E_PUBLIC_URL: Router(server)}, timeout=10
        ) as http:
            async with Client(streamable_http_client(MCP_URL, http_client=http), mode=mode) as mcp:
                tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
                added = await mcp.call_tool("add_todo", {"title": "Renew passport"})
                todo_id = added.structured_content["id"]
                got = await mcp.call_tool("get_todo", {"todo_id": todo_id})
                listed = await mcp.call_tool("list_todos", {})
                updated = await mcp.call_tool("update_todo", {"todo_id": todo_id, "done": True})
                kept = await mcp.call_tool("add_todo", {"title": "Call the bank"})
                deleted = await mcp.call_tool("delete_todo", {"todo_id": todo_id})
                return {
                    "tools": tools,
                    "results": [added, got, updated, listed, kept, deleted],
                    "listed": listed,
                }

    return anyio.run(main)


def check_session(outcome: dict) -> None:
    tools = outcome["tools"]
    assert TOOLS <= set(tools)
    assert tools["list_todos"].annotations.read_only_hint is True
    assert tools["delete_todo"].annotations.destructive_hint is True
    assert tools["add_todo"].annotations.destructive_hint is False
    assert all(tools[name].annotations.open_world_hint is False for name in TOOLS)
    assert all(tools[name].output_schema for name in TOOLS)
    assert "title" in tools["add_todo"].input_schema["properties"]
    assert not any(result.is_error for result in outcome["results"])
    [todo] = outcome["listed"].structured_content["todos"]
    assert todo["title"] == "Renew passport"
    got, updated = outcome["results"][1], outcome["results"][2]
    assert got.structured_content == todo
    assert updated.structured_content["done"] is True


def api_key(server: Server, email: str) -> str:
    """A key of the account, as the same person's GPT action would use it."""
    with server_database(server):
        owner = db.session.scalar(sa.select(Account).where(Account.email == email))
        return make_key(owner)[1]


def rest_titles(server: Server, key: str) -> list[str]:
    """What the same account's GPT action sees."""
    response = requests.get(
        f"{server.url}/todos", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return [todo["title"] for todo in response.json()["todos"]]


def disconnect(server: Server, email: str) -> None:
    """The person presses Disconnect next to the app on the account page."""
    user = browser(server)
    page = user.get(f"{server.url}/login")
    logged_in = user.post(
        f"{server.url}/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page.text)},
        headers={"Referer": f"https://{urlsplit(server.url).netloc}/"},
        allow_redirects=False,
    )
    assert logged_in.status_code == 302, logged_in.text
    account = user.get(f"{server.url}/account")
    assert "MCP (ChatGPT app)" in account.text
    action = account.text.split('action="/account/apps/', 1)[1].split('"', 1)[0]
    response = user.post(
        f"{server.url}/account/apps/{action}",
        data={"csrf_token": csrf_token(account.text), "resource": MCP_URL},
        headers={"Referer": f"https://{urlsplit(server.url).netloc}/"},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text


def mcp_refuses(server: Server, access_token: str) -> bool:
    response = requests.post(
        f"{server.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-06-18",
        },
        timeout=10,
    )
    assert response.status_code in (200, 401), response.text
    return response.status_code == 401


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_the_sdk_client_registers_itself_signs_in_and_uses_every_tool(sign_in_server, mode):
    email = f"ada-dcr-{mode}@example.com"
    with server_database(sign_in_server):
        make_user(email)
    storage = Storage()
    user = User(sign_in_server, email, client_name="ChatGPT")
    provider = connector(sign_in_server, storage, user)

    check_session(use_every_tool(sign_in_server, provider, mode))

    # It registered: a public client with ChatGPT's callback, and signed in once with PKCE
    # S256 and the MCP endpoint as resource; the consent page said who and where to.
    assert storage.client_info.client_id.startswith("tdc_")
    assert storage.client_info.client_secret is None
    assert storage.client_info.token_endpoint_auth_method == "none"
    [link] = user.links
    query = {key: values[0] for key, values in parse_qs(urlsplit(link).query).items()}
    assert query["client_id"] == storage.client_info.client_id
    assert query["code_challenge_method"] == "S256"
    assert query["resource"] == MCP_URL
    assert user.callback["iss"] == E2E_PUBLIC_URL
    assert "registered" in user.consent_page and "<strong>chatgpt.com</strong>" in user.consent_page

    # The todo added over MCP is the GPT action's todo too; each credential is for its own
    # resource only.
    key = api_key(sign_in_server, email)
    assert rest_titles(sign_in_server, key) == ["Call the bank"]
    assert mcp_refuses(sign_in_server, key)
    refused = requests.get(
        f"{sign_in_server.url}/todos",
        headers={"Authorization": f"Bearer {storage.tokens.access_token}"},
        timeout=10,
    )
    assert refused.status_code == 401

    # The access token runs out: the client refreshes, with no one asked again, and the
    # public client's refresh token is replaced.
    first = storage.tokens
    provider.context.token_expiry_time = time.time() - 1
    again = use_every_tool(sign_in_server, provider, mode)
    assert len(user.links) == 1
    assert storage.tokens.access_token != first.access_token
    assert storage.tokens.refresh_token != first.refresh_token
    assert {t["title"] for t in again["listed"].structured_content["todos"]} == {
        "Call the bank",
        "Renew passport",
    }

    # Disconnect on the account page ends it.
    disconnect(sign_in_server, email)
    assert mcp_refuses(sign_in_server, storage.tokens.access_token)


@pytest.fixture
def documents(ca, trusted_ca) -> Iterator[MetadataServer]:
    """ChatGPT's side of CIMD: an https host publishing its client ID metadata document."""
    with MetadataServer(ca, "localhost") as running:
        yield running


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_the_sdk_client_signs_in_with_its_metadata_document(
    gunicorn_server, documents, trusted_ca, mode
):
    # The document's host is on loopback here, so the server is told to trust its origin, and
    # the test CA, as an operator would for a host on their intranet.
    server = gunicorn_server(
        SIGN_IN_APP,
        CLIENT_METADATA_TRUSTED_ORIGINS=documents.origin(),
        SSL_CERT_FILE=str(trusted_ca),
    )
    client_id = documents.serve_document(
        "/oauth/c_1a2b3c/client.json",
        client_name="ChatGPT",
        redirect_uris=[CONNECTOR_CALLBACK],
        token_endpoint_auth_method=None,
        token_endpoint_auth_methods_supported=["none", "private_key_jwt"],
        scope=None,
        client_uri=None,
    )
    email = f"ada-cimd-{mode}@example.com"
    with server_database(server):
        make_user(email)
    storage = Storage()
    user = User(server, email, client_name="ChatGPT")
    provider = connector(server, storage, user, client_metadata_url=client_id)

    check_session(use_every_tool(server, provider, mode))

    # No registration: the client ID is the document's URL, which the server fetched once.
    assert "POST /oauth/register" not in server.log()
    assert storage.client_info.client_id == client_id
    [link] = user.links
    query = {key: values[0] for key, values in parse_qs(urlsplit(link).query).items()}
    assert query["client_id"] == client_id
    assert query["code_challenge_method"] == "S256"
    assert query["resource"] == MCP_URL
    assert f"<strong>localhost:{documents.port}</strong>" in user.consent_page
    assert [path for path, _ in documents.requests] == ["/oauth/c_1a2b3c/client.json"]
    assert rest_titles(server, api_key(server, email)) == ["Call the bank"]
