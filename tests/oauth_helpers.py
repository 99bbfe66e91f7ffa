"""Driving the OAuth provider the way ChatGPT and a user's browser do, through the real pages."""

from __future__ import annotations

import base64
import re
from functools import cache
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from app.accounts.passwords import hash_password
from app.oauth.clients import create_client
from tests.factories import make_user

PASSWORD = "correct horse battery staple"
GPT_ID = "g-a1b2c3d4e5"
CALLBACK = f"https://chatgpt.com/aip/{GPT_ID}/oauth/callback"
OLD_CALLBACK = f"https://chat.openai.com/aip/{GPT_ID}/oauth/callback"
STATE = "2f1c7a52-4a43-4d0e-9d59-0f3a8c1e5b77"
CSRF_INPUT_RE = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
VALUE_RE = re.compile(r'\bvalue="([^"]+)"')


@cache
def _password_hash() -> str:
    # Argon2 is slow on purpose; one hash serves every test account.
    return hash_password(PASSWORD)


def make_account(app: Flask, email: str = "ada@example.com") -> int:
    with app.app_context():
        return make_user(email, password_hash=_password_hash()).id


def register_client(app: Flask, name: str = "ChatGPT", **options) -> tuple[str, str | None]:
    """A registered client's id and secret (None for a public client)."""
    options.setdefault("gpt_ids", [GPT_ID])
    with app.app_context():
        client, secret = create_client(name, **options)
        return client.client_id, secret


def browser(app: Flask) -> FlaskClient:
    """A test client with its own cookies, like one user's browser."""
    client = app.test_client()
    # The test client speaks https, and Flask-WTF then checks the Referer against the host.
    host = app.config.get("SERVER_NAME") or "localhost"
    client.environ_base["HTTP_REFERER"] = f"https://{host}/"
    return client


def csrf_token(html: str) -> str:
    field = CSRF_INPUT_RE.search(html)
    assert field, "no CSRF token on the page"
    return VALUE_RE.search(field.group(0)).group(1)


def log_in(client: FlaskClient, email: str = "ada@example.com", next_path: str = "") -> None:
    url = "/login" + (f"?next={next_path}" if next_path else "")
    page = client.get(url)
    response = client.post(
        url,
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page.text)},
    )
    assert response.status_code == 302, response.text


def authorize_query(client_id: str, redirect_uri: str = CALLBACK, **params) -> dict:
    """What ChatGPT puts in the sign-in link: state, and `scope=` even when it is empty."""
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "",
        "state": STATE,
        **params,
    }


def decide(client: FlaskClient, query: dict, decision: str = "allow"):
    """Press Allow or Deny on the consent page that `query` shows."""
    page = client.get("/oauth/authorize", query_string=query)
    assert page.status_code == 200, page.text
    return client.post(
        "/oauth/authorize",
        query_string=query,
        data={"decision": decision, "csrf_token": csrf_token(page.text)},
    )


def redirect_params(response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def redirect_target(response) -> str:
    parts = urlsplit(response.headers["Location"])
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def get_code(client: FlaskClient, client_id: str, redirect_uri: str = CALLBACK, **params) -> str:
    """A code for a logged-in browser, answering the consent page if it is shown."""
    query = authorize_query(client_id, redirect_uri, **params)
    response = client.get("/oauth/authorize", query_string=query)
    if response.status_code == 200:
        response = decide(client, query)
    values = redirect_params(response)
    assert values.get("state") == query["state"], values
    assert "code" in values, values
    return values["code"]


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_request(
    client: FlaskClient, client_id: str, secret: str | None, method: str = "post", **form
):
    """POST /oauth/token, form-encoded, authenticating as ChatGPT's editor setting says."""
    headers = {}
    if method == "post":
        form["client_id"] = client_id
        if secret is not None:
            form["client_secret"] = secret
    elif method == "basic":
        headers = basic(client_id, secret)
    else:
        form["client_id"] = client_id
    return client.post("/oauth/token", data=form, headers=headers)


def exchange(
    client: FlaskClient,
    client_id: str,
    secret: str | None,
    code: str,
    method: str = "post",
    redirect_uri: str = CALLBACK,
    **form,
):
    return token_request(
        client,
        client_id,
        secret,
        method,
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect_uri,
        **form,
    )


def refresh(client: FlaskClient, client_id: str, secret: str | None, token: str, method="post"):
    return token_request(
        client, client_id, secret, method, grant_type="refresh_token", refresh_token=token
    )


def sign_in(app: Flask, client_id: str, secret: str | None, email: str = "ada@example.com"):
    """The whole dance for an existing account: the token response's JSON."""
    user_browser = browser(app)
    log_in(user_browser, email)
    code = get_code(user_browser, client_id)
    response = exchange(app.test_client(), client_id, secret, code)
    assert response.status_code == 200, response.json
    return response.json
