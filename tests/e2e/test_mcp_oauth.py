"""ChatGPT's developer mode with static credentials, played by the official MCP SDK client:
its OAuthClientProvider, given a client of this server up front (the client id and secret an
operator made), discovers the sign-in from /mcp's 401, sends the user through the real log-in
and consent pages with PKCE and `resource`, exchanges the code and calls the tools, against
real gunicorn (2 workers) behind a router that serves the public https host."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
import requests
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata

from app.resources import all_scopes
from tests.e2e.chatgpt import OAuthClientCredentials, server_database
from tests.e2e.conftest import E2E_PUBLIC_URL, Server
from tests.e2e.mcp_peer import CONNECTOR_CALLBACK, MCP_URL, Router, Storage, User
from tests.factories import make_client, make_user


def static_credentials(server: Server, email: str) -> OAuthClientCredentials:
    """What the operator does: an account, and a client allowing the connector's callback."""
    with server_database(server):
        make_user(email)
        return OAuthClientCredentials(
            *make_client("ChatGPT app", gpt_ids=[], redirect_uris=[CONNECTOR_CALLBACK])
        )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_the_sdk_client_signs_in_with_static_credentials_and_calls_the_tools(sign_in_server, mode):
    email = f"ada-{mode}@example.com"
    credentials = static_credentials(sign_in_server, email)
    storage = Storage(
        OAuthClientInformationFull(
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            redirect_uris=[CONNECTOR_CALLBACK],
            token_endpoint_auth_method="client_secret_post",
        )
    )
    user = User(sign_in_server, email)
    provider = OAuthClientProvider(
        server_url=MCP_URL,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[CONNECTOR_CALLBACK],
            client_name="ChatGPT app",
            token_endpoint_auth_method="client_secret_post",
        ),
        storage=storage,
        redirect_handler=user.follow,
        callback_handler=user.answer,
    )

    async def main():
        async with httpx2.AsyncClient(
            auth=provider, mounts={E2E_PUBLIC_URL: Router(sign_in_server)}, timeout=10
        ) as http:
            async with Client(streamable_http_client(MCP_URL, http_client=http), mode=mode) as mcp:
                tools = {tool.name for tool in (await mcp.list_tools()).tools}
                added = await mcp.call_tool("add_todo", {"title": "Renew passport"})
                listed = await mcp.call_tool("list_todos", {})
                return tools, added, listed

    tools, added, listed = anyio.run(main)

    # One sign-in, found from the 401: PKCE S256, the MCP endpoint as resource, the scopes the
    # metadata names, and ChatGPT's connector callback.
    [link] = user.links
    query = {key: values[0] for key, values in parse_qs(urlsplit(link).query).items()}
    assert query["client_id"] == credentials.client_id
    assert query["code_challenge_method"] == "S256"
    assert query["resource"] == MCP_URL
    assert query["redirect_uri"] == CONNECTOR_CALLBACK
    assert set(query["scope"].split()) == set(all_scopes())
    assert user.callback["iss"] == E2E_PUBLIC_URL

    assert {"list_todos", "add_todo", "get_todo", "update_todo", "delete_todo"} <= tools
    assert not added.is_error
    assert [t["title"] for t in listed.structured_content["todos"]] == ["Renew passport"]

    # The token is for the MCP endpoint only; the REST API refuses it.
    access = {"Authorization": f"Bearer {storage.tokens.access_token}"}
    refused = requests.get(f"{sign_in_server.url}/todos", headers=access, timeout=10)
    assert refused.status_code == 401
    assert storage.tokens.refresh_token
