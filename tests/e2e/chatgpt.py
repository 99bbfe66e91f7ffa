"""ChatGPT's side of a GPT action, played over HTTP against a running server.

What it sends follows the fact sheet (§3): the authorize link carries state and `scope=` and
no PKCE; the token request is form-encoded with the client credentials in the body ("Default
(POST request)") or in a Basic header ("Basic authorization header"); action calls carry
`Authorization: Bearer <token>` and the openai-* headers.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import requests

from app import create_app
from app.extensions import db
from tests.browser import csrf_token
from tests.e2e.conftest import ROUTER_HEADERS, Server
from tests.factories import GPT_ID, PASSWORD, make_client, make_user
from tests.oauth_helpers import CALLBACK

GPT_HEADERS = {
    "User-Agent": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; "
    "ChatGPT-User/1.0; +https://openai.com/bot",
    "openai-gpt-id": GPT_ID,
    "openai-conversation-id": "0c1d2e3f-e2e0-4000-8000-000000000042",
}


@dataclass
class OAuthClientCredentials:
    client_id: str
    client_secret: str | None  # None for a public client


@contextmanager
def server_database(server: Server) -> Iterator[None]:
    """An app context on the server's database, with its settings, for the suite's factories:
    rows made here are what an operator's CLI would make."""
    app = create_app(dict(server.env))
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def seed(server: Server, email: str) -> OAuthClientCredentials:
    """An account and a registered GPT client in the server's database."""
    with server_database(server):
        make_user(email)
        return OAuthClientCredentials(*make_client("Todo GPT"))


class RouterBrowser(requests.Session):
    """The user's browser behind a PaaS router: it speaks https to the router, which forwards
    plain http to gunicorn. The session cookie is Secure, and the browser sends it back because
    for the browser the site is https; requests would not over http, so it is told here."""

    secure_cookies: set[str]

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        for cookie in self.cookies:
            if cookie.secure:
                self.secure_cookies.add(cookie.name)
                cookie.secure = False
        return response


def browser(server: Server) -> RouterBrowser:
    session = RouterBrowser()
    session.secure_cookies = set()
    session.headers.update(ROUTER_HEADERS)
    return session


def sign_in(
    server: Server,
    user: requests.Session,
    credentials: OAuthClientCredentials,
    email: str,
    **params: str,
) -> str:
    """The "Sign in to <host>" button: authorize, log in if needed, Allow; returns the code
    ChatGPT's callback receives, after checking the state came back unchanged. `params` are
    added to the authorize link (a public client's PKCE challenge)."""
    state = str(uuid.uuid4())
    query = {
        "response_type": "code",
        "client_id": credentials.client_id,
        "redirect_uri": CALLBACK,
        "scope": "",
        "state": state,
        **params,
    }
    # Pages compare the Referer with the https origin the router reports.
    referer = {"Referer": f"https://{urlsplit(server.url).netloc}/"}
    response = user.get(f"{server.url}/oauth/authorize", params=query, allow_redirects=False)
    if response.status_code == 302 and "/login" in response.headers["Location"]:
        login_url = server.url + response.headers["Location"]
        page = user.get(login_url)
        response = user.post(
            login_url,
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page.text)},
            headers=referer,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text
        response = user.get(server.url + response.headers["Location"], allow_redirects=False)
    if response.status_code == 200:  # the consent page
        assert "Todo GPT" in response.text
        response = user.post(
            f"{server.url}/oauth/authorize",
            params=query,
            data={"decision": "allow", "csrf_token": csrf_token(response.text)},
            headers=referer,
            allow_redirects=False,
        )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    params = parse_qs(location.query)
    assert params["state"] == [state]
    # RFC 9207: the issuer of the metadata, byte for byte, on the redirect as well.
    metadata = requests.get(f"{server.url}/.well-known/oauth-authorization-server", timeout=10)
    assert params["iss"] == [metadata.json()["issuer"]]
    return params["code"][0]


def token_request(
    server: Server,
    credentials: OAuthClientCredentials,
    data: dict,
    method: str = "default_post",
) -> requests.Response:
    """A token request as the editor's Token Exchange Method sends it."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", **ROUTER_HEADERS}
    body = dict(data)
    if method == "basic_auth_header":
        raw = f"{credentials.client_id}:{credentials.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    else:
        body.update(client_id=credentials.client_id, client_secret=credentials.client_secret)
    return requests.post(f"{server.url}/oauth/token", data=body, headers=headers, timeout=10)


def exchange(server: Server, credentials: OAuthClientCredentials, code: str, method: str) -> dict:
    response = token_request(
        server,
        credentials,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        method,
    )
    assert response.status_code == 200, response.text
    return response.json()


def call(server: Server, method: str, path: str, auth: dict | None = None, **kwargs):
    """One action call as ChatGPT makes it."""
    headers = {**ROUTER_HEADERS, **GPT_HEADERS, **(auth or {})}
    return requests.request(method, f"{server.url}{path}", headers=headers, timeout=10, **kwargs)
