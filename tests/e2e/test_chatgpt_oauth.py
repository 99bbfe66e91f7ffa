"""ChatGPT signing a user in over OAuth and calling every action, against real gunicorn.

The whole walk, authorize to revoke, is here once over HTTP; tests/test_oauth_flow.py walks it
once in process, and the other OAuth tests there take one step each.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from app.config import slug
from app.extensions import db
from app.models import RefreshToken, utcnow
from app.oauth.grants import REFRESH_GRACE
from app.resources import all_scopes
from tests.e2e.chatgpt import (
    OAuthClientCredentials,
    browser,
    call,
    exchange,
    seed,
    server_database,
    sign_in,
    token_request,
)
from tests.e2e.conftest import E2E_PUBLIC_URL
from tests.e2e.test_action_flow import EXPECTED_ACTIONS, lint_for_gpt, list_actions
from tests.factories import make_client, make_user
from tests.oauth_helpers import CALLBACK, bearer

VERIFIER = "a-public-client-verifier-of-enough-length-0123456789abcdef"


def test_import_the_spec_declares_one_oauth_scheme_on_the_server(oauth_server):
    spec = oauth_server.client.get(f"{oauth_server.url}/openapi.json").json()
    lint_for_gpt(spec)
    assert list_actions(spec) == EXPECTED_ACTIONS
    schemes = spec["components"]["securitySchemes"]
    assert list(schemes) == ["oauth"]
    flow = schemes["oauth"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "https://todo-action-e2e.test/oauth/authorize"
    assert flow["tokenUrl"] == "https://todo-action-e2e.test/oauth/token"


@pytest.mark.parametrize("method", ["default_post", "basic_auth_header"])
def test_sign_in_then_every_action_then_refresh_and_revoke(oauth_server, method):
    credentials = seed(oauth_server, "ada@example.com")
    user = browser(oauth_server)

    # No credentials: ChatGPT gets 401 and shows "Sign in to ...".
    refused = call(oauth_server, "GET", "/todos")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")

    code = sign_in(oauth_server, user, credentials, "ada@example.com")
    # Production sets the session cookie Secure, behind the router as well.
    assert user.secure_cookies == {f"{slug()}_session"}
    tokens = exchange(oauth_server, credentials, code, method)
    assert tokens["token_type"].lower() == "bearer"
    assert 3000 <= tokens["expires_in"] <= 3600
    assert tokens["refresh_token"]
    assert set(tokens["scope"].split()) == set(all_scopes())
    auth = bearer(tokens["access_token"])

    created = []
    for title, due in [("Buy milk", "2030-01-05"), ("Call the bank", None), ("Écrire à Zoé", None)]:
        response = call(oauth_server, "POST", "/todos", auth, json={"title": title, "due": due})
        assert response.status_code == 201, response.text
        todo = response.json()
        assert todo["title"] == title and todo["done"] is False and todo["due"] == due
        created.append(todo)
    milk, bank, letter = created

    def listed(**params) -> dict:
        response = call(oauth_server, "GET", "/todos", auth, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    response = call(oauth_server, "GET", "/todos", auth)
    assert [t["id"] for t in response.json()["todos"]] == [milk["id"], bank["id"], letter["id"]]
    assert response.json()["next_cursor"] is None
    # Non-ASCII goes out as itself, not \\u escapes, and counts once against ChatGPT's limit.
    assert "Écrire à Zoé".encode() in response.content

    first = listed(limit=2)
    assert [t["id"] for t in first["todos"]] == [milk["id"], bank["id"]]
    assert first["next_cursor"]
    rest = listed(limit=2, cursor=first["next_cursor"])
    assert [t["id"] for t in rest["todos"]] == [letter["id"]]
    assert rest["next_cursor"] is None
    assert [t["id"] for t in listed(q="bank")["todos"]] == [bank["id"]]
    assert [t["id"] for t in listed(due_before="2030-02-01")["todos"]] == [milk["id"]]

    response = call(oauth_server, "GET", f"/todos/{bank['id']}", auth)
    assert response.status_code == 200
    assert response.json() == bank

    response = call(
        oauth_server, "PATCH", f"/todos/{bank['id']}", auth, json={"done": True, "notes": "Paid."}
    )
    assert response.status_code == 200, response.text
    assert response.json()["done"] is True and response.json()["notes"] == "Paid."
    assert [t["id"] for t in listed()["todos"]] == [milk["id"], letter["id"]]
    assert [t["id"] for t in listed(status="done")["todos"]] == [bank["id"]]

    response = call(oauth_server, "DELETE", f"/todos/{milk['id']}", auth)
    assert response.status_code == 204
    assert response.content == b""
    response = call(oauth_server, "GET", f"/todos/{milk['id']}", auth)
    assert response.status_code == 404
    assert response.json()["code"] == 404 and response.json()["message"]
    assert {t["id"] for t in listed(status="all")["todos"]} == {bank["id"], letter["id"]}

    # ChatGPT refreshes in the background; the user stays signed in.
    refreshed = token_request(
        oauth_server,
        credentials,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        method,
    )
    assert refreshed.status_code == 200, refreshed.text
    new_access = refreshed.json()["access_token"]
    assert new_access != tokens["access_token"]
    assert call(oauth_server, "GET", "/todos", bearer(new_access)).status_code == 200

    # Revoking the refresh token ends the whole sign-in.
    revoked = oauth_server.client.post(
        f"{oauth_server.url}/oauth/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        },
    )
    assert revoked.status_code == 200
    for token in (tokens["access_token"], new_access):
        assert call(oauth_server, "GET", "/todos", bearer(token)).status_code == 401
    again = token_request(
        oauth_server,
        credentials,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        method,
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_a_second_sign_in_skips_consent_and_sees_the_same_list(oauth_server):
    credentials = seed(oauth_server, "ada@example.com")
    user = browser(oauth_server)
    first = exchange(
        oauth_server,
        credentials,
        sign_in(oauth_server, user, credentials, "ada@example.com"),
        "default_post",
    )
    call(oauth_server, "POST", "/todos", bearer(first["access_token"]), json={"title": "Walk"})
    # Another conversation: the same user, already signed in and consented.
    second = exchange(
        oauth_server,
        credentials,
        sign_in(oauth_server, user, credentials, "ada@example.com"),
        "basic_auth_header",
    )
    listed = call(oauth_server, "GET", "/todos", bearer(second["access_token"])).json()
    assert [t["title"] for t in listed["todos"]] == ["Walk"]


def test_a_sign_in_for_the_mcp_endpoint_gets_tokens_the_api_refuses(oauth_server):
    credentials = seed(oauth_server, "ada@example.com")
    # As an MCP client asks, with the query ChatGPT may append.
    resource = f"{E2E_PUBLIC_URL}/mcp?from=chatgpt"
    code = sign_in(
        oauth_server, browser(oauth_server), credentials, "ada@example.com", resource=resource
    )
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    tokens = token_request(oauth_server, credentials, {**form, "resource": resource}).json()

    refused = call(oauth_server, "GET", "/todos", bearer(tokens["access_token"]))
    assert refused.status_code == 401
    assert "another resource" in refused.json()["message"]
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]

    refreshed = token_request(
        oauth_server,
        credentials,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    ).json()
    assert call(oauth_server, "GET", "/todos", bearer(refreshed["access_token"])).status_code == 401
    other = token_request(
        oauth_server,
        credentials,
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "resource": E2E_PUBLIC_URL,
        },
    )
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_target"


def test_unregistered_callback_gets_no_redirect(oauth_server):
    credentials = seed(oauth_server, "ada@example.com")
    response = browser(oauth_server).get(
        f"{oauth_server.url}/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": credentials.client_id,
            "scope": "",
            "state": "s",
            "redirect_uri": "https://chatgpt.com/aip/g-other/oauth/callback",
        },
        allow_redirects=False,
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert f"clients add-gpt {credentials.client_id} g-other" in response.text


def test_racing_refreshes_of_a_public_client_each_get_a_refresh_token_that_works(oauth_server):
    with server_database(oauth_server):
        make_user("ada@example.com")
        credentials = OAuthClientCredentials(*make_client("Todo GPT", public=True))
    challenge = create_s256_code_challenge(VERIFIER)
    code = sign_in(
        oauth_server,
        browser(oauth_server),
        credentials,
        "ada@example.com",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    signed_in = token_request(
        oauth_server,
        credentials,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER,
        },
    )
    assert signed_in.status_code == 200, signed_in.text
    refresh_token = signed_in.json()["refresh_token"]
    # Both requests go out at once, to whichever of the two workers takes each.
    start = threading.Barrier(2)
    results: list = [None, None]

    def refresh_in_thread(index: int) -> None:
        start.wait()
        results[index] = token_request(
            oauth_server,
            credentials,
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
        )

    threads = [threading.Thread(target=refresh_in_thread, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    # The next refresh comes an hour later, long past the grace window.
    with server_database(oauth_server):
        db.session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.rotated_at.is_not(None))
            .values(rotated_at=utcnow() - REFRESH_GRACE - timedelta(seconds=1))
        )
        db.session.commit()
    for result in results:
        assert "refresh_token" in result.json(), result.json()
        access = bearer(result.json()["access_token"])
        assert call(oauth_server, "GET", "/todos", access).status_code == 200
        later = token_request(
            oauth_server,
            credentials,
            {"grant_type": "refresh_token", "refresh_token": result.json()["refresh_token"]},
        )
        assert later.status_code == 200, later.text
