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
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.browser import csrf_token
from tests.e2e.chatgpt import OAuthClientCredentials, browser, server_database
from tests.e2e.conftest import E2E_PUBLIC_URL, ROUTER_HEADERS, Server
from tests.factories import PASSWORD, make_client, make_user

CONNECTOR_CALLBACK = "https://chatgpt.com/connector/oauth/c_1a2b3c"
MCP_URL = f"{E2E_PUBLIC_URL}/mcp"


class Router(httpx2.AsyncBaseTransport):
    """The PaaS router in front of gunicorn: the public https host, forwarded as plain http to
    the server with the headers a router adds (the Host header stays the public one)."""

    def __init__(self, server: Server) -> None:
        self.target = httpx2.URL(server.url)
        self.forward = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.url = request.url.copy_with(
            scheme="http", host=self.target.host, port=self.target.port
        )
        request.headers.update(ROUTER_HEADERS)
        return await self.forward.handle_async_request(request)

    async def aclose(self) -> None:
        await self.forward.aclose()


class Storage:
    """The connector's settings: the static client credentials, and the tokens it got."""

    def __init__(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info
        self.tokens: OAuthToken | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class User:
    """The person in front of ChatGPT: follows the sign-in link, logs in and presses Allow;
    ChatGPT's callback then receives the redirect's parameters."""

    def __init__(self, server: Server, email: str) -> None:
        self.server = server
        self.email = email
        self.links: list[str] = []
        self.callback: dict[str, str] = {}

    async def follow(self, authorization_url: str) -> None:
        self.links.append(authorization_url)
        self.callback = await anyio.to_thread.run_sync(self._sign_in, authorization_url)

    async def answer(self) -> AuthorizationCodeResult:
        return AuthorizationCodeResult(**self.callback)

    def _sign_in(self, authorization_url: str) -> dict[str, str]:
        link = urlsplit(authorization_url)
        assert f"{link.scheme}://{link.netloc}" == E2E_PUBLIC_URL
        page_url = f"{self.server.url}{link.path}?{link.query}"
        user = browser(self.server)
        referer = {"Referer": f"https://{urlsplit(self.server.url).netloc}/"}
        response = user.get(page_url, allow_redirects=False)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        login_url = self.server.url + response.headers["Location"]
        page = user.get(login_url)
        response = user.post(
            login_url,
            data={"email": self.email, "password": PASSWORD, "csrf_token": csrf_token(page.text)},
            headers=referer,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text
        consent = user.get(self.server.url + response.headers["Location"], allow_redirects=False)
        assert consent.status_code == 200 and "ChatGPT app" in consent.text
        response = user.post(
            page_url,
            data={"decision": "allow", "csrf_token": csrf_token(consent.text)},
            headers=referer,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text
        location = urlsplit(response.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == CONNECTOR_CALLBACK
        return {key: values[0] for key, values in parse_qs(location.query).items()}


def static_credentials(server: Server, email: str) -> OAuthClientCredentials:
    """What the operator does: an account, and a client allowing the connector's callback."""
    with server_database(server):
        make_user(email)
        return OAuthClientCredentials(
            *make_client("ChatGPT app", gpt_ids=[], redirect_uris=[CONNECTOR_CALLBACK])
        )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_the_sdk_client_signs_in_with_static_credentials_and_calls_the_tools(oauth_server, mode):
    email = f"ada-{mode}@example.com"
    credentials = static_credentials(oauth_server, email)
    storage = Storage(
        OAuthClientInformationFull(
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            redirect_uris=[CONNECTOR_CALLBACK],
            token_endpoint_auth_method="client_secret_post",
        )
    )
    user = User(oauth_server, email)
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
            auth=provider, mounts={E2E_PUBLIC_URL: Router(oauth_server)}, timeout=10
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
    assert set(query["scope"].split()) == {"todos:read", "todos:write"}
    assert user.callback["iss"] == E2E_PUBLIC_URL

    assert {"list_todos", "add_todo", "get_todo", "update_todo", "delete_todo"} <= tools
    assert not added.is_error
    assert [t["title"] for t in listed.structured_content["todos"]] == ["Renew passport"]

    # The token is for the MCP endpoint only; the REST API refuses it.
    access = {"Authorization": f"Bearer {storage.tokens.access_token}"}
    refused = requests.get(f"{oauth_server.url}/todos", headers=access, timeout=10)
    assert refused.status_code == 401
    assert storage.tokens.refresh_token
