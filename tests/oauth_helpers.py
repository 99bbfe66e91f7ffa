"""ChatGPT's side of the OAuth sign-in, in process: the authorize link, the consent page's
answer, and the token endpoint as the GPT editor's Token Exchange Method calls it."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from tests.browser import csrf_token, log_in
from tests.factories import GPT_ID

CALLBACK = f"https://chatgpt.com/aip/{GPT_ID}/oauth/callback"
OLD_CALLBACK = f"https://chat.openai.com/aip/{GPT_ID}/oauth/callback"
STATE = "2f1c7a52-4a43-4d0e-9d59-0f3a8c1e5b77"


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
    """The whole sign-in for an existing account, in a browser of its own: the token response."""
    user_browser = app.test_client()
    log_in(user_browser, email)
    code = get_code(user_browser, client_id)
    response = exchange(app.test_client(), client_id, secret, code)
    assert response.status_code == 200, response.json
    return response.json


def revoke(
    client: FlaskClient, client_id: str, secret: str | None, token: str, method="post", **form
):
    """POST /oauth/revoke (RFC 7009), authenticating as `token_request` does."""
    form["token"] = token
    if method == "basic":
        return client.post("/oauth/revoke", data=form, headers=basic(client_id, secret))
    return client.post(
        "/oauth/revoke", data={**form, "client_id": client_id, "client_secret": secret}
    )


def token_works(app: Flask, access_token: str) -> bool:
    """Whether the API takes the access token (and a 401 if it does not, nothing else)."""
    response = app.test_client().get("/todos", headers=bearer(access_token))
    assert response.status_code in (200, 401), response.json
    return response.status_code == 200
