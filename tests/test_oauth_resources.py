"""Resource indicators (RFC 8707), the audience the API accepts, and the issuer (RFC 9207).

A sign-in that names the MCP endpoint as its `resource` gets tokens for it alone; the REST API
refuses them, and keeps taking its own tokens (sign-ins naming no resource) and API keys.
"""

from __future__ import annotations

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oauth2.rfc9207 import AuthorizationServerMetadata as IssuerMetadata

from app.audience import canonical_resource, mcp_resource
from app.config import project
from app.credentials import find_api_key
from app.extensions import db
from app.models import AccessToken
from app.oauth.resources import token_resource
from app.secrets_util import digest
from tests.browser import log_in
from tests.conftest import TEST_PUBLIC_URL
from tests.factories import make_client
from tests.oauth_helpers import (
    CALLBACK,
    STATE,
    authorize_query,
    bearer,
    decide,
    exchange,
    get_code,
    redirect_params,
    redirect_target,
    refresh,
    token_works,
)

MCP = f"{TEST_PUBLIC_URL}/mcp"
VERIFIER = "an-mcp-client-verifier-of-enough-length-0123456789abcdefghij"


@pytest.fixture
def app_settings() -> dict:
    return {"ACTION_AUTH": "oauth"}


def _mcp_sign_in(app, user_browser, client_id, secret, **token_form) -> dict:
    code = get_code(user_browser, client_id, resource=MCP)
    response = exchange(app.test_client(), client_id, secret, code, resource=MCP, **token_form)
    assert response.status_code == 200, response.json
    return response.json


def _resource_of(app, access_token: str) -> str | None:
    with app.app_context():
        token = db.session.scalar(
            db.select(AccessToken).where(AccessToken.digest == digest(access_token))
        )
        return token_resource(token)


def _assert_refused_by_the_api(app, access_token: str) -> None:
    response = app.test_client().get("/todos", headers=bearer(access_token))
    assert response.status_code == 401
    assert response.json["message"] == (
        "This access token is for another resource; sign in again for this API."
    )
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer realm="{project().name}", error="invalid_token"')
    assert "another resource" in challenge


# Binding and audience


def test_a_sign_in_for_the_mcp_endpoint_gets_tokens_the_api_refuses(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    token = _mcp_sign_in(app, user_browser, client_id, secret)

    _assert_refused_by_the_api(app, token["access_token"])
    assert _resource_of(app, token["access_token"]) == MCP
    with app.app_context():
        assert mcp_resource() == MCP


def test_the_api_keeps_taking_its_own_tokens_and_api_keys(app, user_browser, chatgpt, auth_headers):
    client_id, secret = chatgpt
    _mcp_sign_in(app, user_browser, client_id, secret)
    code = get_code(user_browser, client_id)
    own = exchange(app.test_client(), client_id, secret, code).json["access_token"]

    assert token_works(app, own)
    assert _resource_of(app, own) is None
    key = auth_headers()
    assert app.test_client().get("/todos", headers=key).status_code == 200
    with app.app_context():
        api_key = find_api_key(key["Authorization"].removeprefix("Bearer "))
        assert token_resource(api_key) is None


def test_insufficient_scope_does_not_hide_the_wrong_resource(app, user_browser):
    with app.app_context():
        client_id, secret = make_client("Reader", scope="todos:read")
    token = _mcp_sign_in(app, user_browser, client_id, secret)

    response = app.test_client().post(
        "/todos", json={"title": "x"}, headers=bearer(token["access_token"])
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    "spelling",
    [
        MCP,
        "HTTPS://Todo-Action.TEST/mcp",
        "https://todo-action.test:443/mcp",
        "https://todo-action.test/mcp/",
        # ChatGPT may append a query; it is not part of the comparison.
        "https://todo-action.test/mcp?chatgpt_app=1",
    ],
)
def test_the_mcp_resource_is_recognised_in_its_equivalent_spellings(
    app, user_browser, chatgpt, spelling
):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id, resource=spelling)

    token = exchange(app.test_client(), client_id, secret, code, resource=spelling).json

    assert _resource_of(app, token["access_token"]) == MCP


UNKNOWN_RESOURCES = [
    TEST_PUBLIC_URL,  # the REST API is asked for by naming no resource
    f"{TEST_PUBLIC_URL}/",
    f"{TEST_PUBLIC_URL}/MCP",
    f"{TEST_PUBLIC_URL}/mcp/tools",
    f"{TEST_PUBLIC_URL}/mcp#fragment",
    "http://todo-action.test/mcp",
    "https://todo-action.test:8443/mcp",
    "https://user@todo-action.test/mcp",
    "https://evil.example/mcp",
    "/mcp",
    "urn:todo-action:mcp",
    'https://todo-action.test/"mcp\\',
    "https://[::1/mcp",
]


@pytest.mark.parametrize("resource", UNKNOWN_RESOURCES)
def test_an_unknown_resource_is_refused_by_redirect_with_invalid_target(
    app, user_browser, chatgpt, resource
):
    client_id, _ = chatgpt

    response = user_browser.get(
        "/oauth/authorize", query_string=authorize_query(client_id, resource=resource)
    )

    assert redirect_target(response) == CALLBACK
    values = redirect_params(response)
    assert values["error"] == "invalid_target"
    assert values["state"] == STATE
    assert values["iss"] == TEST_PUBLIC_URL
    assert "code" not in values


def test_two_different_resources_are_refused(app, user_browser, chatgpt):
    client_id, _ = chatgpt
    query = authorize_query(client_id, resource=[MCP, "https://evil.example/mcp"])

    values = redirect_params(user_browser.get("/oauth/authorize", query_string=query))

    assert values["error"] == "invalid_target"


def test_an_empty_resource_names_none(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id, resource="")

    token = exchange(app.test_client(), client_id, secret, code, resource="").json

    assert token_works(app, token["access_token"])


@pytest.mark.parametrize("resource", UNKNOWN_RESOURCES)
def test_a_resource_in_the_token_request_must_be_the_authorized_one(
    app, user_browser, chatgpt, resource
):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id, resource=MCP)

    response = exchange(app.test_client(), client_id, secret, code, resource=resource)

    assert response.status_code == 400
    assert response.json["error"] == "invalid_target"
    assert "access_token" not in response.json


def test_a_code_for_the_api_cannot_be_exchanged_for_an_mcp_token(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id)

    response = exchange(app.test_client(), client_id, secret, code, resource=MCP)

    assert response.status_code == 400
    assert response.json["error"] == "invalid_target"


def test_a_code_for_the_mcp_endpoint_keeps_its_resource_when_the_token_request_omits_it(
    app, user_browser, chatgpt
):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id, resource=MCP)

    token = exchange(app.test_client(), client_id, secret, code).json

    _assert_refused_by_the_api(app, token["access_token"])
    assert _resource_of(app, token["access_token"]) == MCP


# Refresh


def test_refresh_keeps_the_resource(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    token = _mcp_sign_in(app, user_browser, client_id, secret)
    server = app.test_client()

    without = refresh(server, client_id, secret, token["refresh_token"])
    named = server.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "resource": MCP + "?again=1",
            "client_id": client_id,
            "client_secret": secret,
        },
    )

    for response in (without, named):
        assert response.status_code == 200, response.json
        _assert_refused_by_the_api(app, response.json["access_token"])
        assert _resource_of(app, response.json["access_token"]) == MCP


def _refresh_for(server, client_id, secret, refresh_token, resource):
    return server.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "resource": resource,
            "client_id": client_id,
            "client_secret": secret,
        },
    )


def test_refresh_cannot_change_the_resource(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    server = app.test_client()
    mcp_token = _mcp_sign_in(app, user_browser, client_id, secret)
    code = get_code(user_browser, client_id)
    api_token = exchange(server, client_id, secret, code).json

    to_api = _refresh_for(server, client_id, secret, mcp_token["refresh_token"], TEST_PUBLIC_URL)
    to_mcp = _refresh_for(server, client_id, secret, api_token["refresh_token"], MCP)

    for response in (to_api, to_mcp):
        assert response.status_code == 400
        assert response.json["error"] == "invalid_target"
    # Both sign-ins go on as they were.
    assert token_works(
        app, refresh(server, client_id, secret, api_token["refresh_token"]).json["access_token"]
    )
    _assert_refused_by_the_api(
        app, refresh(server, client_id, secret, mcp_token["refresh_token"]).json["access_token"]
    )


def test_a_public_mcp_clients_rotated_refresh_tokens_keep_the_resource(app, user_browser):
    with app.app_context():
        client_id, _ = make_client("MCP client", public=True)
    pkce = {
        "code_challenge": create_s256_code_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    code = get_code(user_browser, client_id, resource=MCP, **pkce)
    server = app.test_client()
    token = exchange(server, client_id, None, code, code_verifier=VERIFIER, resource=MCP).json

    for _ in range(2):
        token = refresh(server, client_id, None, token["refresh_token"]).json
        assert _resource_of(app, token["access_token"]) == MCP


# The issuer (RFC 9207) and the metadata (RFC 8414)


def test_every_authorization_response_carries_the_issuer(app, user_browser, chatgpt):
    client_id, _ = chatgpt
    issuer = app.test_client().get("/.well-known/oauth-authorization-server").json["issuer"]
    query = authorize_query(client_id)

    allowed = decide(user_browser, query)
    remembered = user_browser.get("/oauth/authorize", query_string=query)

    for response in (allowed, remembered):
        values = redirect_params(response)
        assert "code" in values
        assert values["iss"] == issuer


def test_a_denied_request_carries_the_issuer(app, user_browser, chatgpt):
    client_id, _ = chatgpt

    values = redirect_params(decide(user_browser, authorize_query(client_id), "deny"))

    assert values["error"] == "access_denied"
    assert values["iss"] == TEST_PUBLIC_URL


@pytest.mark.parametrize("logged_in", [False, True])
@pytest.mark.parametrize(
    "params",
    [{"response_type": "token"}, {"scope": "admin"}, {"resource": "https://evil.example/mcp"}],
)
def test_error_redirects_carry_the_issuer(app, account, chatgpt, logged_in, params):
    client_id, _ = chatgpt
    user = app.test_client()
    if logged_in:
        log_in(user)

    response = user.get("/oauth/authorize", query_string=authorize_query(client_id, **params))

    assert redirect_target(response) == CALLBACK
    values = redirect_params(response)
    assert "error" in values
    assert values["iss"] == TEST_PUBLIC_URL


def test_the_metadata_says_iss_is_sent(app):
    metadata = AuthorizationServerMetadata(
        app.test_client().get("/.well-known/oauth-authorization-server").json
    )

    metadata.validate(metadata_classes=[IssuerMetadata])
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["code_challenge_methods_supported"] == ["S256"]


class TestAPublicUrlWithATrailingSlash:
    @pytest.fixture
    def app_settings(self) -> dict:
        return {"ACTION_AUTH": "oauth", "PUBLIC_URL": "https://Todo-Action.test/"}

    def test_the_issuer_has_no_trailing_slash_and_is_what_iss_carries(self, app, chatgpt):
        client_id, _ = chatgpt
        metadata = app.test_client().get("/.well-known/oauth-authorization-server").json

        response = app.test_client().get(
            "/oauth/authorize", query_string=authorize_query(client_id, response_type="token")
        )

        assert metadata["issuer"] == "https://todo-action.test"
        assert redirect_params(response)["iss"] == metadata["issuer"]


# Canonical form


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("HTTPS://Example.COM:443/mcp/", "https://example.com/mcp"),
        ("http://example.com:80/mcp?x=1", "http://example.com/mcp"),
        ("https://example.com:8443/mcp", "https://example.com:8443/mcp"),
        ("https://[::1]:443/mcp", "https://[::1]/mcp"),
        ("https://example.com/mcp#x", None),
        ("https://example.com:99999/mcp", None),
        ("ftp://example.com/mcp", None),
        ("mcp", None),
    ],
)
def test_canonical_resource(value, canonical):
    assert canonical_resource(value) == canonical
