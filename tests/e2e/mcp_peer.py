"""The official MCP SDK client as ChatGPT's developer mode plays it, over loopback against real
gunicorn: a router for the public https host, the connector's storage, and the person who
signs in through the real log-in and consent pages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken

from tests.browser import csrf_token
from tests.e2e.chatgpt import browser
from tests.e2e.conftest import E2E_PUBLIC_URL, ROUTER_HEADERS, Server
from tests.factories import PASSWORD

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
    """The connector's settings: its client credentials (static ones, or what it registered),
    and the tokens it got."""

    def __init__(self, client_info: OAuthClientInformationFull | None = None) -> None:
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

    def __init__(self, server: Server, email: str, client_name: str = "ChatGPT app") -> None:
        self.server = server
        self.email = email
        self.client_name = client_name
        self.links: list[str] = []
        self.consent_page = ""
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
        assert consent.status_code == 200 and self.client_name in consent.text
        self.consent_page = consent.text
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
