"""Clients that register themselves (RFC 7591), as ChatGPT's connectors and other MCP clients
do, and what becomes of them: sign-in with PKCE, the consent page, listing, expiry."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.attempts import REGISTRATION_ADDRESS_LIMIT
from app.extensions import db
from app.models import Consent, OAuthClient, OAuthGrant, utcnow
from app.oauth.registration import prune_unused_clients
from app.resources import all_scopes
from tests.browser import log_in, post_form
from tests.conftest import TEST_PUBLIC_URL, build_app
from tests.factories import make_client, make_user
from tests.oauth_helpers import (
    authorize_query,
    bearer,
    decide,
    exchange,
    redirect_params,
    token_works,
)

CONNECTOR = "https://chatgpt.com/connector/oauth/c_5f3a9d1e"
MCP = f"{TEST_PUBLIC_URL}/mcp"
LEGACY_CONNECTOR = "https://chatgpt.com/connector_platform_oauth_redirect"
VERIFIER = "kq2Jd8-registration-test-verifier-with-enough-entropy-0123456789"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")


def register(client, environ_base=None, **metadata):
    body = {"client_name": "ChatGPT", "redirect_uris": [CONNECTOR], **metadata}
    return client.post("/oauth/register", json=body, environ_base=environ_base or {})


def clients_in_db(app) -> list[OAuthClient]:
    with app.app_context():
        return list(db.session.scalars(sa.select(OAuthClient).order_by(OAuthClient.id)))


def pkce(**params) -> dict:
    return {"code_challenge": CHALLENGE.decode(), "code_challenge_method": "S256", **params}


def test_the_server_metadata_offers_registration_and_metadata_documents(client):
    metadata = client.get("/.well-known/oauth-authorization-server").json
    assert metadata["registration_endpoint"] == f"{TEST_PUBLIC_URL}/oauth/register"
    assert metadata["client_id_metadata_document_supported"] is True
    assert "none" in metadata["token_endpoint_auth_methods_supported"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]


def test_chatgpt_registers_a_public_client_for_its_connector(app, client):
    response = register(client, token_endpoint_auth_method="client_secret_post")
    assert response.status_code == 201, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    # Public, whatever was asked: no secret is issued, and the answer says so (RFC 7591 3.2.1).
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body
    assert body["redirect_uris"] == [CONNECTOR]
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["response_types"] == ["code"]
    assert body["client_name"] == "ChatGPT"
    assert set(body["scope"].split()) == set(all_scopes())
    (stored,) = clients_in_db(app)
    assert stored.client_id == body["client_id"]
    assert stored.is_public and stored.origin == "registered"

    legacy = register(client, redirect_uris=[LEGACY_CONNECTOR])
    assert legacy.status_code == 201, legacy.json


def test_a_client_that_asks_for_less_is_told_it_may_refresh(client):
    response = register(client, grant_types=["authorization_code"])
    assert response.json["grant_types"] == ["authorization_code", "refresh_token"]


def test_it_keeps_only_what_it_uses_and_drops_unknown_scopes(app, client):
    known = next(iter(all_scopes()))
    response = register(
        client,
        scope=f"{known} admin:all",
        logo_uri="https://example.com/logo.png",
        client_name="Ro\u0000gue\nname " + "x" * 200,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["scope"] == known
    assert "logo_uri" not in body
    # Control characters go; a line break is a space.
    assert body["client_name"].startswith("Rogue name x") and len(body["client_name"]) == 100


@pytest.mark.parametrize(
    "metadata, error",
    [
        ({"redirect_uris": ["https://evil.example/callback"]}, "invalid_redirect_uri"),
        (
            {"redirect_uris": ["https://chatgpt.com/aip/g-1/oauth/callback#x"]},
            "invalid_redirect_uri",
        ),
        (
            {"redirect_uris": ["https://chatgpt.com.evil.example/connector/oauth/x"]},
            "invalid_redirect_uri",
        ),
        ({"redirect_uris": [f"{CONNECTOR}/../../x"]}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": CONNECTOR}, "invalid_redirect_uri"),
        ({"redirect_uris": [7]}, "invalid_redirect_uri"),
        ({"redirect_uris": None}, "invalid_redirect_uri"),
        ({"grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ({"response_types": ["token"]}, "invalid_client_metadata"),
        ({"client_uri": "not a url"}, "invalid_client_metadata"),
        # JSON of the wrong type for a member (RFC 7591 section 2).
        ({"grant_types": 5}, "invalid_client_metadata"),
        ({"response_types": "code"}, "invalid_client_metadata"),
        ({"logo_uri": 5}, "invalid_client_metadata"),
        ({"client_uri": ["https://x.example"]}, "invalid_client_metadata"),
        ({"jwks": "x"}, "invalid_client_metadata"),
        ({"client_name": 5}, "invalid_client_metadata"),
        ({"scope": ["todos:read"]}, "invalid_client_metadata"),
        ({"contacts": "a@example.com"}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": None}, "invalid_client_metadata"),
    ],
)
def test_a_registration_it_cannot_take_is_refused_and_nothing_is_kept(app, client, metadata, error):
    response = register(client, **metadata)
    assert response.status_code == 400, response.json
    assert response.json["error"] == error
    assert response.json["error_description"]
    assert clients_in_db(app) == []


@pytest.mark.parametrize(
    "body", ["not json", "[1, 2]", '"text"', "{", '{"redirect_uris": [1e999]}']
)
def test_a_body_that_is_not_a_json_object_is_invalid_metadata(app, client, body):
    response = client.post(
        "/oauth/register", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_client_metadata"
    assert clients_in_db(app) == []


@pytest.mark.parametrize("app_settings", [{"APP_ENV": "development"}, {"APP_ENV": "testing"}])
def test_loopback_callbacks_are_for_development(app, client):
    response = register(client, redirect_uris=["http://127.0.0.1:33418/callback"])
    assert response.status_code == 201, response.json


class TestProduction:
    @pytest.fixture
    def app_settings(self):
        return {"APP_ENV": "production", "SECRET_KEY": "x" * 40}

    def test_loopback_callbacks_are_refused_in_production(self, app, client):
        response = register(client, redirect_uris=["http://127.0.0.1:33418/callback"])
        assert response.status_code == 400
        assert response.json["error"] == "invalid_redirect_uri"
        assert "CLIENT_REGISTRATION" in response.json["error_description"]


class TestOpen:
    @pytest.fixture
    def app_settings(self):
        return {"CLIENT_REGISTRATION": "open", "APP_ENV": "production", "SECRET_KEY": "x" * 40}

    def test_any_https_or_loopback_callback_may_register(self, app, client):
        for uri in ("https://claude.ai/api/mcp/auth_callback", "http://127.0.0.1:33418/cb"):
            response = register(client, redirect_uris=[uri])
            assert response.status_code == 201, response.json
        for uri in ("http://example.com/cb", "https://x.example/cb#frag", "ftp://x.example/cb"):
            assert register(client, redirect_uris=[uri]).json["error"] == "invalid_redirect_uri"

    @pytest.mark.parametrize(
        "uri",
        [
            "https://chаtgpt.com/connector/oauth/x",  # a Cyrillic а in the host
            "https://bücher.example/cb",
            "https://x.example/a b",
            'https://x.example/"cb"',
            "https://x.example/cb\n",
            "https://x.example/cb<script>",
        ],
    )
    def test_callbacks_must_be_written_in_uri_characters(self, app, client, uri):
        # As a metadata document's must: RFC 3986's characters, an IDN in its xn-- form.
        refused = register(client, redirect_uris=[uri])
        assert refused.json["error"] == "invalid_redirect_uri"
        assert "xn--" in refused.json["error_description"]
        assert clients_in_db(app) == []
        a_label = register(client, redirect_uris=["https://xn--bcher-kva.example/cb"])
        assert a_label.status_code == 201, a_label.json

    def test_errors_before_consent_are_not_sent_to_a_strangers_callback(self, app, client):
        """Else anyone could register a callback and have this server redirect to it."""
        evil = "https://evil.example/cb"
        client_id = register(client, redirect_uris=[evil]).json["client_id"]
        page = client.get(
            "/oauth/authorize", query_string=authorize_query(client_id, evil, **pkce(scope="x"))
        )
        assert page.status_code == 400
        assert "Location" not in page.headers

    def test_narrowing_the_setting_applies_to_clients_registered_before(
        self, app, client, user_browser, database_url
    ):
        callback = "https://claude.ai/api/mcp/auth_callback"
        client_id = register(client, redirect_uris=[callback]).json["client_id"]
        tokens = sign_in_registered(app, client_id, user_browser, redirect_uri=callback).json
        narrowed = build_app(database_url, CLIENT_REGISTRATION="chatgpt")
        try:
            browser = narrowed.test_client()
            log_in(browser)
            query = authorize_query(client_id, callback, **pkce(resource=MCP))
            page = browser.get("/oauth/authorize", query_string=query)
            assert page.status_code == 400
            assert "connector callbacks" in page.text
            # What it already has goes on working until the user disconnects it.
            refreshed = narrowed.test_client().post(
                "/oauth/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": tokens["refresh_token"],
                    "client_id": client_id,
                },
            )
            assert refreshed.status_code == 200, refreshed.json
        finally:
            with narrowed.app_context():
                db.engine.dispose()


def test_errors_before_consent_go_back_to_chatgpts_callback(app, client):
    client_id = register(client).json["client_id"]
    response = client.get(
        "/oauth/authorize", query_string=authorize_query(client_id, CONNECTOR, **pkce(scope="x"))
    )
    assert redirect_params(response)["error"] == "invalid_scope"


class TestOff:
    @pytest.fixture
    def app_settings(self):
        return {"CLIENT_REGISTRATION": "off"}

    def test_nothing_registers_and_nothing_is_advertised(self, app, client):
        metadata = client.get("/.well-known/oauth-authorization-server").json
        assert "registration_endpoint" not in metadata
        assert metadata["client_id_metadata_document_supported"] is False
        response = register(client)
        assert response.status_code == 403
        assert response.json["error"] == "access_denied"
        assert clients_in_db(app) == []

    def test_clients_an_admin_created_still_sign_in(self, app, chatgpt, account):
        from tests.oauth_helpers import sign_in

        assert token_works(app, sign_in(app, *chatgpt)["access_token"])


def test_registrations_are_limited_per_address(app, client):
    limit = int(REGISTRATION_ADDRESS_LIMIT.split()[0])
    for _ in range(limit):
        assert register(client).status_code == 201
    refused = register(client)
    assert refused.status_code == 429
    assert refused.json["error"] == "temporarily_unavailable"
    assert int(refused.headers["Retry-After"]) > 0
    assert len(clients_in_db(app)) == limit
    # Another address is not held back by this one's registrations.
    other = client.post(
        "/oauth/register",
        json={"redirect_uris": [CONNECTOR]},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert other.status_code == 201, other.json


def test_a_whole_ipv6_network_counts_as_one_address(app, client):
    # One subscriber or cloud server has a /64: its addresses share one allowance.
    limit = int(REGISTRATION_ADDRESS_LIMIT.split()[0])
    for n in range(limit):
        address = f"2001:db8:5:7::{n + 1:x}"
        assert register(client, environ_base={"REMOTE_ADDR": address}).status_code == 201
    refused = register(client, environ_base={"REMOTE_ADDR": "2001:db8:5:7:ffff::1"})
    assert refused.status_code == 429
    neighbour = register(client, environ_base={"REMOTE_ADDR": "2001:db8:5:8::1"})
    assert neighbour.status_code == 201, neighbour.json


def test_at_the_cap_of_unused_clients_the_oldest_make_room(app, client, monkeypatch):
    monkeypatch.setattr("app.oauth.registration.UNUSED_MAX", 3)
    first = [
        register(client, environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}).json["client_id"]
        for n in range(3)
    ]
    with app.app_context():
        # One of them was allowed by a user: it is in use, and never pushed out.
        db.session.execute(
            sa.update(OAuthClient)
            .where(OAuthClient.client_id == first[1])
            .values(last_used_at=utcnow())
        )
        db.session.commit()

    fresh = register(client, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    newer = register(client, environ_base={"REMOTE_ADDR": "203.0.113.10"})

    assert (fresh.status_code, newer.status_code) == (201, 201)
    # The oldest client no one allowed made room for the newest; the one in use stayed.
    kept = {c.client_id for c in clients_in_db(app)}
    assert kept == {first[1], first[2], fresh.json["client_id"], newer.json["client_id"]}


def exchange_for_mcp(app, client_id: str, code: str, redirect_uri: str = CONNECTOR):
    """A public client's code exchange: no secret, the PKCE verifier, the MCP endpoint."""
    return exchange(
        app.test_client(),
        client_id,
        None,
        code,
        redirect_uri=redirect_uri,
        code_verifier=VERIFIER,
        resource=MCP,
    )


def sign_in_registered(app, client_id: str, user_browser, redirect_uri=CONNECTOR):
    query = authorize_query(client_id, redirect_uri, **pkce(resource=MCP))
    code = redirect_params(decide(user_browser, query))["code"]
    return exchange_for_mcp(app, client_id, code, redirect_uri)


def test_a_registered_client_signs_in_with_pkce_and_uses_mcp(app, client, user_browser):
    client_id = register(client, client_name="ChatGPT").json["client_id"]

    # Without PKCE the request is refused before anyone is asked.
    plain = user_browser.get("/oauth/authorize", query_string=authorize_query(client_id, CONNECTOR))
    assert redirect_params(plain)["error"] == "invalid_request"

    query = authorize_query(client_id, CONNECTOR, **pkce(resource=MCP))
    page = user_browser.get("/oauth/authorize", query_string=query).text
    assert "Allow ChatGPT to use your TODO list?" in page
    assert "the name the app gave itself" in page
    assert "sent back to <strong>chatgpt.com</strong>" in page

    tokens = sign_in_registered(app, client_id, user_browser)
    assert tokens.status_code == 200, tokens.json
    assert "refresh_token" in tokens.json
    listed = client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={
            **bearer(tokens.json["access_token"]),
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-06-18",
        },
    )
    assert listed.status_code == 200, listed.text
    assert {t["name"] for t in listed.json["result"]["tools"]} >= {"list_todos", "add_todo"}
    with app.app_context():
        assert db.session.scalar(sa.select(OAuthClient.last_used_at)) is not None


def test_consent_is_per_resource(app, client, user_browser):
    """Allowing a client into the REST API does not let it into /mcp without asking, and
    disconnecting one leaves the other working."""
    client_id = register(client, redirect_uris=[CONNECTOR]).json["client_id"]
    # The REST API first (no resource).
    rest_query = authorize_query(client_id, CONNECTOR, **pkce())
    rest_code = redirect_params(decide(user_browser, rest_query))["code"]
    rest = exchange(
        app.test_client(),
        client_id,
        None,
        rest_code,
        redirect_uri=CONNECTOR,
        code_verifier=VERIFIER,
    ).json
    assert token_works(app, rest["access_token"])

    # The MCP endpoint asks again.
    mcp_query = authorize_query(client_id, CONNECTOR, **pkce(resource=MCP))
    assert user_browser.get("/oauth/authorize", query_string=mcp_query).status_code == 200
    mcp = sign_in_registered(app, client_id, user_browser).json
    # Now both are remembered: a second MCP sign-in goes straight back.
    again = user_browser.get("/oauth/authorize", query_string=mcp_query)
    assert "code" in redirect_params(again)

    account = user_browser.get("/account").text
    assert "API (GPT action)" in account and "MCP (ChatGPT app)" in account
    with app.app_context():
        pk = db.session.scalar(sa.select(OAuthClient.id))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Consent)) == 2
    disconnected = post_form(
        user_browser,
        f"/account/apps/{pk}/disconnect",
        {"resource": MCP},
        page="/account",
    )
    assert disconnected.status_code == 302
    assert token_works(app, rest["access_token"])
    mcp_call = client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={**bearer(mcp["access_token"]), "Accept": "application/json, text/event-stream"},
    )
    assert mcp_call.status_code == 401
    account = user_browser.get("/account").text
    assert "API (GPT action)" in account and "MCP (ChatGPT app)" not in account


def test_registered_clients_are_listed_with_their_origin(app, client):
    client_id = register(client, client_name="ChatGPT").json["client_id"]
    with app.app_context():
        make_client("Todo GPT")
    listed = app.test_cli_runner().invoke(args=["clients", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    origins = {c["name"]: c["origin"] for c in json.loads(listed.output)}
    assert origins == {"ChatGPT": "registered", "Todo GPT": "created"}
    text = app.test_cli_runner().invoke(args=["clients", "list"]).output
    assert "registered itself (dynamic client registration)" in text

    with app.app_context():
        make_user("root@example.com", is_admin=True)
    admin = app.test_client()
    log_in(admin, "root@example.com")
    page = admin.get("/admin").text
    assert "Origin: registered itself (dynamic client registration)" in page
    assert f"/admin/clients/{client_id}/delete" in page


def test_unused_self_registered_clients_expire(app, client, user_browser):
    never_used = register(client).json["client_id"]
    in_use = register(client).json["client_id"]
    disconnected = register(client).json["client_id"]
    assert sign_in_registered(app, in_use, user_browser).status_code == 200
    assert sign_in_registered(app, disconnected, user_browser).status_code == 200
    with app.app_context():
        admin_made, _ = make_client("Old GPT")
        by_id = {c.client_id: c for c in db.session.scalars(sa.select(OAuthClient))}
        long_ago = utcnow() - timedelta(days=40)
        for client_id in by_id:
            by_id[client_id].created_at = long_ago
        by_id[in_use].last_used_at = long_ago
        by_id[disconnected].last_used_at = long_ago
        db.session.execute(
            sa.update(OAuthGrant)
            .where(OAuthGrant.client_pk == by_id[disconnected].id)
            .values(revoked_at=utcnow())
        )
        db.session.commit()
        assert prune_unused_clients() == 2
        left = set(db.session.scalars(sa.select(OAuthClient.client_id)))
    # A sign-in that still works keeps its client however old; an admin's clients never go.
    assert left == {in_use, admin_made}
    assert never_used not in left
    pruned = app.test_cli_runner().invoke(args=["clients", "prune"])
    assert pruned.exit_code == 0 and "deleted 0" in pruned.output


def test_a_fresh_registration_is_kept_for_a_day_before_anyone_uses_it(app, client):
    client_id = register(client).json["client_id"]
    with app.app_context():
        assert prune_unused_clients() == 0
        db.session.execute(sa.update(OAuthClient).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    # The next registration sweeps it away.
    register(client)
    assert client_id not in {c.client_id for c in clients_in_db(app)}
