"""Which clients and redirect URIs the provider accepts, its metadata, and its answers to junk."""

from __future__ import annotations

import base64
import html
import re

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from app.oauth.clients import ClientError, add_redirect, create_client, find_client
from app.resources import all_scopes
from tests.browser import browser
from tests.conftest import TEST_PUBLIC_URL
from tests.factories import GPT_ID, make_client
from tests.oauth_helpers import (
    CALLBACK,
    OLD_CALLBACK,
    STATE,
    authorize_query,
    basic,
    exchange,
    get_code,
    redirect_params,
    redirect_target,
    token_request,
)
from tests.shell import pasted


@pytest.fixture
def app_settings() -> dict:
    return {"ACTION_AUTH": "oauth"}


def _refused_page(response) -> str:
    """The request was refused on our own page: nothing went to the redirect URI."""
    assert response.status_code == 400, response.text
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    return html.unescape(response.text)


# Redirect URIs


@pytest.mark.parametrize(
    "redirect_uri",
    [
        CALLBACK + "/",
        CALLBACK + "?x=1",
        CALLBACK.upper(),
        CALLBACK.replace("https://", "http://"),
        f"https://chatgpt.com.evil.example/aip/{GPT_ID}/oauth/callback",
        f"https://chatgpt.com/aip/{GPT_ID}x/oauth/callback",
    ],
)
def test_redirect_uris_must_match_exactly(app, chatgpt, user_browser, redirect_uri):
    client_id, _ = chatgpt

    response = user_browser.get(
        "/oauth/authorize", query_string=authorize_query(client_id, redirect_uri)
    )

    _refused_page(response)


def test_a_disallowed_callback_page_names_it_and_the_command_that_allows_it(
    app, chatgpt, user_browser
):
    client_id, _ = chatgpt
    other_gpt = "https://chatgpt.com/aip/g-other123/oauth/callback"

    text = _refused_page(
        user_browser.get("/oauth/authorize", query_string=authorize_query(client_id, other_gpt))
    )

    assert other_gpt in text
    assert f"flask --app app clients add-gpt {client_id} g-other123" in text


def test_a_disallowed_redirect_uri_page_names_the_add_redirect_command(app, chatgpt):
    client_id, _ = chatgpt
    elsewhere = "https://evil.example/callback"

    # Before anyone logs in: the refusal comes first.
    text = _refused_page(
        browser(app.test_client()).get(
            "/oauth/authorize", query_string=authorize_query(client_id, elsewhere)
        )
    )

    assert elsewhere in text
    assert f"flask --app app clients add-redirect {client_id} {elsewhere}" in text


def test_the_add_redirect_command_pastes_safely_into_a_shell(app, chatgpt, tmp_path):
    client_id, _ = chatgpt
    elsewhere = "https://dev.example/cb?app=1&next=$(touch${IFS}pwned)`id`;x=1|y"

    text = _refused_page(
        browser(app.test_client()).get(
            "/oauth/authorize", query_string=authorize_query(client_id, elsewhere)
        )
    )

    command = re.search(r"<pre class=\"command\">(.*?)</pre>", text, re.S).group(1)
    assert pasted(command, tmp_path) == [
        "--app",
        "app",
        "clients",
        "add-redirect",
        client_id,
        elsewhere,
    ]


def test_an_unknown_client_gets_a_page_and_no_redirect(app, user_browser):
    text = _refused_page(
        user_browser.get("/oauth/authorize", query_string=authorize_query("tdc_no-such-client"))
    )
    assert "tdc_no-such-client" in text
    assert "flask --app app clients list" in text


def test_a_missing_client_id_gets_a_page(app):
    query = authorize_query("")
    del query["client_id"]
    _refused_page(browser(app.test_client()).get("/oauth/authorize", query_string=query))


def test_a_client_with_two_callbacks_needs_redirect_uri(app, chatgpt, user_browser):
    client_id, _ = chatgpt
    query = authorize_query(client_id)
    del query["redirect_uri"]
    _refused_page(user_browser.get("/oauth/authorize", query_string=query))


def test_other_registered_redirect_uris_work_exactly(app, user_browser):
    local = "http://localhost:8765/callback"
    with app.app_context():
        client_id, secret = make_client("CLI", gpt_ids=[], redirect_uris=[local])

    # The only redirect URI may be left out; the code still goes there.
    query = authorize_query(client_id)
    del query["redirect_uri"]
    page = user_browser.get("/oauth/authorize", query_string=query)
    assert page.status_code == 200

    code = get_code(user_browser, client_id, local)
    token = exchange(app.test_client(), client_id, secret, code, redirect_uri=local)
    assert token.status_code == 200, token.json
    _refused_page(
        user_browser.get("/oauth/authorize", query_string=authorize_query(client_id, local + "x"))
    )


@pytest.mark.parametrize(
    "callback",
    [
        "https://chatgpt.com/aip/g-9f8e7d6c5b/oauth/callback",
        "https://chat.openai.com/aip/g-9f8e7d6c5b/oauth/callback",
        "https://chat.openai.com/aip/plugin-0c9d4b7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f/oauth/callback",
    ],
)
def test_any_chatgpt_clients_accept_any_gpt_on_chatgpts_hosts(app, user_browser, callback):
    with app.app_context():
        client_id, secret = make_client("Dev GPT", gpt_ids=[], any_chatgpt=True)

    page = user_browser.get("/oauth/authorize", query_string=authorize_query(client_id, callback))
    assert "accepts any ChatGPT GPT" in page.text
    code = get_code(user_browser, client_id, callback)

    token = exchange(app.test_client(), client_id, secret, code, redirect_uri=callback)
    assert token.status_code == 200, token.json


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/aip/g-9f8e7d6c5b/oauth/callback",
        "https://chatgpt.com/aip/g-9f8e7d6c5b/oauth/callback/../../x",
        "https://chatgpt.com/aip/not-a-gpt/oauth/callback",
        "https://chatgpt.com/aip/g-9f8e7d6c5b/oauth/callback?next=https://evil.example",
        "http://chatgpt.com/aip/g-9f8e7d6c5b/oauth/callback",
        "https://chatgpt.com.evil.example/aip/g-9f8e7d6c5b/oauth/callback",
        "https://chatgpt.com/aip/g-9f8e7d6c5b/oauth/callback\n",
    ],
)
def test_any_chatgpt_clients_accept_nothing_else(app, user_browser, redirect_uri):
    with app.app_context():
        client_id, _ = make_client("Dev GPT", gpt_ids=[], any_chatgpt=True)

    response = user_browser.get(
        "/oauth/authorize", query_string=authorize_query(client_id, redirect_uri)
    )

    _refused_page(response)


def test_errors_after_the_redirect_uri_is_known_go_back_to_it(app, chatgpt, user_browser):
    client_id, _ = chatgpt

    response = user_browser.get(
        "/oauth/authorize", query_string=authorize_query(client_id, response_type="token")
    )

    assert redirect_target(response) == CALLBACK
    assert redirect_params(response) == {
        "error": "unsupported_response_type",
        "error_description": redirect_params(response)["error_description"],
        "state": STATE,
        "iss": TEST_PUBLIC_URL,
    }


def test_a_read_only_client_cannot_be_granted_write(app, user_browser):
    with app.app_context():
        client_id, secret = make_client("Reader", scope="todos:read")

    response = user_browser.get(
        "/oauth/authorize", query_string=authorize_query(client_id, scope="todos:write")
    )

    assert redirect_params(response)["error"] == "invalid_scope"
    code = get_code(user_browser, client_id, scope="")
    token = exchange(app.test_client(), client_id, secret, code).json
    assert token["scope"] == "todos:read"


# Registering clients


def test_a_chatgpt_callback_is_registered_as_its_gpt_id(app):
    with app.app_context():
        client, _ = create_client("Todo GPT")
        assert add_redirect(client, OLD_CALLBACK) == GPT_ID
        client = find_client(client.client_id)
        assert client.gpt_ids == [GPT_ID]
        assert client.redirect_uris == []
        assert set(client.allowed_redirect_uris()) == {CALLBACK, OLD_CALLBACK}


@pytest.mark.parametrize(
    "uri",
    [
        "http://example.com/callback",
        "https://example.com/callback#fragment",
        "/relative/callback",
        "https:///no-host",
    ],
)
def test_unsafe_redirect_uris_cannot_be_registered(app, uri):
    with app.app_context(), pytest.raises(ClientError):
        create_client("Some app", redirect_uris=[uri])


@pytest.mark.parametrize("gpt_id", ["g-", "abc", "g-abc/../x", "g-" + "a" * 65])
def test_bad_gpt_ids_cannot_be_registered(app, gpt_id):
    with app.app_context(), pytest.raises(ClientError):
        create_client("Some app", gpt_ids=[gpt_id])


def test_unknown_scopes_cannot_be_registered(app):
    with app.app_context(), pytest.raises(ClientError):
        create_client("Some app", scope="todos:read admin")


# Server metadata (RFC 8414)


def test_metadata_is_valid_rfc8414_and_matches_the_endpoints(app):
    response = app.test_client().get("/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    metadata = AuthorizationServerMetadata(response.json)
    metadata.validate()
    assert metadata["issuer"] == TEST_PUBLIC_URL
    assert metadata["authorization_endpoint"] == f"{TEST_PUBLIC_URL}/oauth/authorize"
    assert metadata["token_endpoint"] == f"{TEST_PUBLIC_URL}/oauth/token"
    assert metadata["revocation_endpoint"] == f"{TEST_PUBLIC_URL}/oauth/revoke"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    for methods in (
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ):
        assert {"client_secret_post", "client_secret_basic"} <= set(metadata[methods])
    assert set(metadata["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert metadata["scopes_supported"] == list(all_scopes())
    for url in (metadata["service_documentation"], metadata["op_policy_uri"]):
        assert app.test_client().get(url.removeprefix(TEST_PUBLIC_URL)).status_code == 200


# Client authentication and junk at the token endpoint


def test_a_wrong_secret_in_basic_is_401_invalid_client_with_a_challenge(app, chatgpt, user_browser):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id)

    response = exchange(app.test_client(), client_id, "tds_wrong", code, method="basic")

    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("client_id", ["tdc_unknown", "tdc_\x00", "\x00"])
@pytest.mark.parametrize("method", ["post", "basic"])
def test_an_unknown_client_is_invalid_client(app, method, client_id):
    response = token_request(
        app.test_client(),
        client_id,
        "tds_whatever",
        method,
        grant_type="authorization_code",
        code="x",
        redirect_uri=CALLBACK,
    )
    # RFC 6749 5.2: 401 when the client tried the Authorization header, 400 or 401 otherwise.
    assert response.status_code == 401 if method == "basic" else response.status_code in (400, 401)
    assert response.json["error"] == "invalid_client"


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"grant_type": "password", "username": "ada@example.com", "password": "x"},
        {"grant_type": "client_credentials"},
        {"grant_type": "implicit"},
        {"grant_type": "authorization_code"},
        {"grant_type": "authorization_code", "code": "tdx"},
        {"grant_type": "authorization_code", "redirect_uri": CALLBACK},
        {"grant_type": "refresh_token"},
        {"grant_type": "refresh_token", "refresh_token": ""},
        {"grant_type": "refresh_token", "refresh_token": "tdr_" + "x" * 200_000},
        {"grant_type": "authorization_code", "code": "x" * 200_000, "redirect_uri": CALLBACK},
        {"grant_type": "refresh_token", "refresh_token": "tdr_x", "scope": "admin"},
        {"grant_type": ["authorization_code", "refresh_token"], "code": "x"},
        {"grant_type": "authorization_code\n", "code": "x", "redirect_uri": CALLBACK},
        {"grant_type": 'pass"word'},
        {"grant_type": "authorization_code", "code": "x", "redirect_uri": CALLBACK + "ä"},
    ],
)
@pytest.mark.parametrize("method", ["post", "basic"])
def test_junk_token_requests_get_oauth_errors(app, chatgpt, method, form):
    client_id, secret = chatgpt

    response = token_request(app.test_client(), client_id, secret, method, **form)

    assert 400 <= response.status_code < 500
    if response.status_code != 413:
        assert response.is_json, response.text
        assert response.json["error"] in {
            "invalid_request",
            "invalid_grant",
            "unsupported_grant_type",
            "unauthorized_client",
            "invalid_scope",
        }


def test_a_body_that_is_not_utf8_is_refused(app, chatgpt):
    client_id, secret = chatgpt
    body = f"grant_type=authorization_code&code=%FF%00&client_id={client_id}&client_secret={secret}"

    response = app.test_client().post(
        "/oauth/token", data=body.encode(), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response.json["error"] in ("invalid_request", "invalid_grant")


def test_a_json_body_is_not_accepted_as_a_token_request(app, chatgpt, user_browser):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id)
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": client_id,
        "client_secret": secret,
    }

    response = app.test_client().post("/oauth/token", json=body)

    assert 400 <= response.status_code < 500
    assert response.is_json
    assert "access_token" not in response.json


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + "QQ" * 5000},
        {"Authorization": "Basic"},
        {"Authorization": "Bearer tda_x"},
        # Not UTF-8 once decoded.
        {"Authorization": "Basic " + base64.b64encode(b"tdc_\xff:y").decode()},
    ],
)
def test_junk_client_authentication_is_refused(app, headers):
    response = app.test_client().post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": CALLBACK},
        headers=headers,
    )
    assert 400 <= response.status_code < 500
    assert response.json["error"] in {"invalid_client", "invalid_request"}


def test_get_is_not_a_token_request(app):
    assert app.test_client().get("/oauth/token").status_code == 405


@pytest.mark.parametrize(
    "changes",
    [
        {"client_id": "x" * 100_000},
        {"state": "s" * 20_000},
        {"scope": "todos:read " * 2_000},
        {"redirect_uri": "https://" + "a" * 10_000},
        {"response_type": ""},
        {"code_challenge": "x" * 10_000, "code_challenge_method": "S256"},
        {"code_challenge": "abc", "code_challenge_method": "S512"},
        {"client_id": "\x00"},
        {"response_type": "code\n"},
        {"redirect_uri": 'https://chatgpt.com/aip/g-"x"/oauth/callback'},
        {"redirect_uri": "https://chatgpt.com/aip/g-ä/oauth/callback"},
        {"redirect_uri": "https://chatgpt.com/aip/g-x\\y/oauth/callback"},
    ],
)
def test_junk_authorize_requests_are_refused_without_a_500(app, chatgpt, user_browser, changes):
    client_id, _ = chatgpt

    query = {**authorize_query(client_id), **changes}

    response = user_browser.get("/oauth/authorize", query_string=query)

    assert response.status_code in (200, 302, 400, 414)
    if response.status_code == 302:
        assert redirect_target(response) == CALLBACK
        assert "error" in redirect_params(response)


def test_junk_revocation_requests_are_refused_without_a_500(app, chatgpt):
    client_id, secret = chatgpt
    server = app.test_client()
    auth = basic(client_id, secret)

    assert server.post("/oauth/revoke", data={}, headers=auth).status_code == 400
    hinted = server.post(
        "/oauth/revoke", data={"token": "x", "token_type_hint": "id_token"}, headers=auth
    )
    assert hinted.status_code == 400
    assert hinted.json["error"] == "unsupported_token_type"
    assert server.post("/oauth/revoke", json={"token": "x"}, headers=auth).status_code == 400
    huge = server.post("/oauth/revoke", data={"token": "x" * 200_000}, headers=auth)
    assert huge.status_code in (200, 413)


# Rate limit


@pytest.mark.parametrize(
    "app_settings", [{"ACTION_AUTH": "oauth", "TOKEN_RATE_LIMIT": "5 per minute"}]
)
def test_the_token_endpoint_is_limited_per_client(app, chatgpt):
    client_id, _ = chatgpt
    with app.app_context():
        other_id, other_secret = make_client("Other GPT")
    limit = 5
    server = app.test_client()
    form = {"grant_type": "refresh_token", "refresh_token": "tdr_x"}

    for _ in range(limit):
        response = token_request(server, client_id, "tds_wrong", "post", **form)
        assert response.status_code != 429
    limited = token_request(server, client_id, "tds_wrong", "basic", **form)

    assert limited.status_code == 429
    assert limited.is_json
    assert limited.json["error"] == "slow_down"
    assert int(limited.headers["Retry-After"]) > 0
    # Other clients (other GPTs behind the same ChatGPT addresses) are not held up.
    other = token_request(server, other_id, other_secret, "basic", **form)
    assert other.status_code == 400


@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": "oauth", "TOKEN_RATE_LIMIT": "off"}])
def test_the_token_endpoint_limit_can_be_turned_off(app, chatgpt):
    client_id, _ = chatgpt
    server = app.test_client()
    form = {"grant_type": "refresh_token", "refresh_token": "tdr_x"}
    statuses = {
        token_request(server, client_id, "tds_wrong", "post", **form).status_code for _ in range(20)
    }
    assert 429 not in statuses


@pytest.mark.parametrize("value", ["lots", "600 per fortnight"])
def test_a_bad_token_rate_limit_is_refused_at_start(value):
    from app.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="TOKEN_RATE_LIMIT must be like"):
        load_config({"APP_ENV": "testing", "TOKEN_RATE_LIMIT": value})
