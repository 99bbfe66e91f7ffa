"""Signing in from ChatGPT: authorize, log in, consent, code, tokens, and using the tokens."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from app.config import project
from app.extensions import db
from app.models import OAuthClient
from app.resources import all_scopes
from tests.browser import browser, csrf_token, log_in
from tests.factories import PASSWORD, make_client, make_user
from tests.oauth_helpers import (
    CALLBACK,
    OLD_CALLBACK,
    STATE,
    authorize_query,
    bearer,
    decide,
    exchange,
    get_code,
    redirect_params,
    redirect_target,
    refresh,
    revoke,
    token_works,
)

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-extra-length-for-entropy"


@pytest.fixture
def app_settings() -> dict:
    return {"ACTION_AUTH": "oauth"}


# The whole sign-in, in process; tests/e2e/test_chatgpt_oauth.py walks it against gunicorn.
@pytest.mark.parametrize("method", ["post", "basic"])
def test_chatgpt_signs_in_uses_refreshes_and_revokes_its_tokens(app, account, chatgpt, method):
    client_id, secret = chatgpt
    user = browser(app.test_client())
    query = authorize_query(client_id)

    # Not logged in: off to the log-in page, which brings the user back here afterwards.
    response = user.get("/oauth/authorize", query_string=query)
    assert response.status_code == 302
    login_url = urlsplit(response.headers["Location"])
    assert login_url.path == "/login"
    next_path = parse_qs(login_url.query)["next"][0]
    assert next_path.startswith("/oauth/authorize?")
    assert parse_qs(urlsplit(next_path).query)["state"] == [STATE]

    page = user.get(response.headers["Location"])
    response = user.post(
        response.headers["Location"],
        data={
            "email": "ada@example.com",
            "password": PASSWORD,
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == next_path

    consent = user.get(next_path)
    assert consent.status_code == 200
    text = html.unescape(consent.text)
    assert "Todo GPT" in text
    assert "ada@example.com" in text
    # The empty scope ChatGPT sends means the client's default: every scope, in plain words.
    for description in all_scopes().values():
        assert description in text

    response = user.post(
        next_path, data={"decision": "allow", "csrf_token": csrf_token(consent.text)}
    )
    assert redirect_target(response) == CALLBACK
    values = redirect_params(response)
    assert values["state"] == STATE
    # The issuer (RFC 9207) too; ChatGPT's GPT actions pass over it.
    assert set(values) == {"code", "state", "iss"}

    chatgpt_server = app.test_client()
    response = exchange(chatgpt_server, client_id, secret, values["code"], method=method)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    token = response.json
    assert token["token_type"].lower() == "bearer"
    assert 3590 <= token["expires_in"] <= 3600
    assert token["refresh_token"]
    assert set(token["scope"].split()) == set(all_scopes())

    # The token acts as the user, for reading and for writing.
    api = app.test_client()
    auth = bearer(token["access_token"])
    added = api.post("/todos", json={"title": "Buy milk"}, headers=auth)
    assert added.status_code == 201, added.json
    assert [t["title"] for t in api.get("/todos", headers=auth).json["todos"]] == ["Buy milk"]

    # ChatGPT refreshes in the background: a new access token, the same refresh token.
    response = refresh(chatgpt_server, client_id, secret, token["refresh_token"], method)
    assert response.status_code == 200, response.json
    new = response.json
    assert new["access_token"] != token["access_token"]
    assert new["refresh_token"] == token["refresh_token"]
    assert new["token_type"].lower() == "bearer"
    assert 3590 <= new["expires_in"] <= 3600
    assert new["scope"] == token["scope"]
    assert token_works(app, new["access_token"])
    # The old access token keeps working until it expires.
    assert token_works(app, token["access_token"])

    # The user signs in from another chat: another grant, which the revocation leaves alone.
    elsewhere = exchange(chatgpt_server, client_id, secret, get_code(user, client_id)).json

    response = revoke(
        chatgpt_server,
        client_id,
        secret,
        token["refresh_token"],
        method,
        token_type_hint="refresh_token",
    )
    assert response.status_code == 200
    # Revoking the refresh token ends this whole sign-in.
    assert not token_works(app, token["access_token"])
    assert not token_works(app, new["access_token"])
    again = refresh(chatgpt_server, client_id, secret, token["refresh_token"], method)
    assert again.status_code == 400
    assert again.json["error"] == "invalid_grant"
    assert token_works(app, elsewhere["access_token"])


def test_tokens_act_as_the_user_who_signed_in(app, chatgpt):
    client_id, secret = chatgpt
    with app.app_context():
        make_user("ada@example.com")
        make_user("bob@example.com")
    tokens = {}
    for email in ("ada@example.com", "bob@example.com"):
        user = app.test_client()
        log_in(user, email)
        code = get_code(user, client_id)
        tokens[email] = exchange(app.test_client(), client_id, secret, code).json["access_token"]

    api = app.test_client()
    api.post("/todos", json={"title": "Ada's"}, headers=bearer(tokens["ada@example.com"]))
    bobs = api.get("/todos", headers=bearer(tokens["bob@example.com"])).json["todos"]
    assert bobs == []


@pytest.mark.parametrize("callback", [CALLBACK, OLD_CALLBACK])
def test_both_chatgpt_hosts_work_for_a_registered_gpt(app, user_browser, chatgpt, callback):
    client_id, secret = chatgpt
    query = authorize_query(client_id, callback)
    response = decide(user_browser, query)
    assert redirect_target(response) == callback
    code = redirect_params(response)["code"]
    token = exchange(app.test_client(), client_id, secret, code, redirect_uri=callback)
    assert token.status_code == 200, token.json


def test_deny_sends_access_denied_and_the_state_back(app, user_browser, chatgpt):
    client_id, _ = chatgpt

    response = decide(user_browser, authorize_query(client_id), "deny")

    assert redirect_target(response) == CALLBACK
    values = redirect_params(response)
    assert values["error"] == "access_denied"
    assert values["state"] == STATE
    assert "code" not in values
    # Denying is not remembered as consent: the next sign-in asks again.
    assert (
        user_browser.get("/oauth/authorize", query_string=authorize_query(client_id)).status_code
        == 200
    )


def test_consent_is_remembered_until_disconnected(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    query = authorize_query(client_id)
    form_token = csrf_token(user_browser.get("/oauth/authorize", query_string=query).text)
    allowed = user_browser.post(
        "/oauth/authorize", query_string=query, data={"decision": "allow", "csrf_token": form_token}
    )
    code = redirect_params(allowed)["code"]
    token = exchange(app.test_client(), client_id, secret, code).json

    # ChatGPT signs the user in again (new chat, expired refresh): no question this time.
    again = user_browser.get(
        "/oauth/authorize", query_string=authorize_query(client_id, state="s2")
    )
    assert redirect_params(again)["state"] == "s2"
    assert "code" in redirect_params(again)

    # The account page's Disconnect button.
    with app.app_context():
        client_pk = db.session.scalar(sa.select(OAuthClient.id))
    done = user_browser.post(
        f"/account/apps/{client_pk}/disconnect", data={"csrf_token": form_token}
    )
    assert done.status_code == 302

    asked = user_browser.get("/oauth/authorize", query_string=query)
    assert asked.status_code == 200
    assert "Allow" in asked.text
    api = app.test_client()
    assert api.get("/todos", headers=bearer(token["access_token"])).status_code == 401


def test_a_wider_scope_asks_again(app, user_browser, chatgpt):
    client_id, _ = chatgpt
    get_code(user_browser, client_id, scope="todos:read")

    narrower = user_browser.get(
        "/oauth/authorize", query_string=authorize_query(client_id, scope="todos:read")
    )
    assert "code" in redirect_params(narrower)

    wider = user_browser.get("/oauth/authorize", query_string=authorize_query(client_id, scope=""))
    assert wider.status_code == 200
    assert all_scopes()["todos:write"] in html.unescape(wider.text)


def test_a_read_only_token_cannot_write(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id, scope="todos:read")
    token = exchange(app.test_client(), client_id, secret, code).json
    assert token["scope"] == "todos:read"

    api = app.test_client()
    assert api.get("/todos", headers=bearer(token["access_token"])).status_code == 200
    refused = api.post("/todos", json={"title": "x"}, headers=bearer(token["access_token"]))
    assert refused.status_code == 403
    assert refused.json["code"] == 403
    challenge = refused.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer realm="{project().name}", error="insufficient_scope"')
    assert 'scope="todos:write"' in challenge


def test_unknown_scopes_are_refused_by_redirect(app, user_browser, chatgpt):
    client_id, _ = chatgpt
    response = user_browser.get(
        "/oauth/authorize", query_string=authorize_query(client_id, scope="admin todos:read")
    )
    values = redirect_params(response)
    assert values["error"] == "invalid_scope"
    assert values["state"] == STATE


def test_the_consent_page_needs_its_csrf_token(app, user_browser, chatgpt):
    client_id, _ = chatgpt
    response = user_browser.post(
        "/oauth/authorize", query_string=authorize_query(client_id), data={"decision": "allow"}
    )
    assert response.status_code == 400
    assert "Location" not in response.headers


# PKCE


def _pkce(method: str = "S256") -> dict:
    challenge = create_s256_code_challenge(VERIFIER) if method == "S256" else VERIFIER
    return {"code_challenge": challenge, "code_challenge_method": method}


def test_confidential_clients_may_use_s256(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id, **_pkce())
    server = app.test_client()

    wrong = exchange(server, client_id, secret, code, code_verifier=VERIFIER[:-1] + "x")
    assert wrong.status_code == 400
    assert wrong.json["error"] == "invalid_grant"

    code = get_code(user_browser, client_id, **_pkce())
    assert exchange(server, client_id, secret, code).json["error"] == "invalid_request"

    code = get_code(user_browser, client_id, **_pkce())
    response = exchange(server, client_id, secret, code, code_verifier=VERIFIER)
    assert response.status_code == 200, response.json


def test_public_clients_sign_in_with_s256(app, user_browser):
    with app.app_context():
        client_id, secret = make_client("Desktop app", public=True)
    assert secret is None
    code = get_code(user_browser, client_id, **_pkce())

    response = exchange(app.test_client(), client_id, None, code, code_verifier=VERIFIER)

    assert response.status_code == 200, response.json
    assert response.json["refresh_token"]


def test_public_clients_must_use_pkce(app, user_browser):
    with app.app_context():
        client_id, _ = make_client("Desktop app", public=True)

    response = user_browser.get("/oauth/authorize", query_string=authorize_query(client_id))

    values = redirect_params(response)
    assert redirect_target(response) == CALLBACK
    assert values["error"] == "invalid_request"
    assert values["state"] == STATE
    assert "code" not in values


@pytest.mark.parametrize(
    "pkce",
    [
        {},
        {"code_challenge": create_s256_code_challenge(VERIFIER)},  # method defaults to plain
        {"code_challenge_method": "S256"},
        {"code_challenge": VERIFIER, "code_challenge_method": "plain"},
        {"code_challenge": create_s256_code_challenge(VERIFIER), "code_challenge_method": "s256"},
    ],
)
def test_every_public_client_must_use_s256(app, user_browser, pkce):
    # Clients that register themselves will all be public: this is their one rule.
    with app.app_context():
        client_id, _ = make_client("Desktop app", public=True)

    response = user_browser.get("/oauth/authorize", query_string=authorize_query(client_id, **pkce))

    values = redirect_params(response)
    assert values["error"] == "invalid_request"
    assert values["state"] == STATE
    assert "code" not in values


def test_a_public_clients_wrong_verifier_is_invalid_grant(app, user_browser):
    with app.app_context():
        client_id, _ = make_client("Desktop app", public=True)
    code = get_code(user_browser, client_id, **_pkce())
    server = app.test_client()

    response = exchange(server, client_id, None, code, code_verifier="x" * 50)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"

    code = get_code(user_browser, client_id, **_pkce())
    missing = exchange(server, client_id, None, code)
    assert missing.status_code == 400
    assert "access_token" not in missing.json


@pytest.mark.parametrize("public", [False, True])
def test_plain_pkce_is_refused(app, user_browser, public):
    with app.app_context():
        client_id, _ = make_client("Some app", public=public)

    response = user_browser.get(
        "/oauth/authorize", query_string=authorize_query(client_id, **_pkce("plain"))
    )

    values = redirect_params(response)
    assert values["error"] == "invalid_request"
    assert values["state"] == STATE


def test_a_public_client_cannot_skip_pkce_with_a_secret_it_does_not_have(app, user_browser):
    with app.app_context():
        client_id, _ = make_client("Desktop app", public=True)
    code = get_code(user_browser, client_id, **_pkce())

    response = exchange(app.test_client(), client_id, "tds_guess", code, code_verifier=VERIFIER)

    assert response.status_code in (400, 401)
    assert response.json["error"] == "invalid_client"
