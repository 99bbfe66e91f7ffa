"""Clients known by their client ID metadata document (CIMD), through the OAuth pages: the
document fetched, trusted only as far as it may be, cached by its headers, and refused, with
a page saying why, wherever fetching it would be unsafe.

The documents are served over https by a real server on loopback (tests/metadata_server.py),
whose origin the app is told to trust where a test needs the fetch to go through."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import OAuthClient
from tests.browser import log_in, post_form
from tests.factories import make_user
from tests.metadata_server import MetadataServer, Reply
from tests.oauth_helpers import authorize_query, decide, redirect_params
from tests.test_oauth_registration import CONNECTOR, MCP, exchange_for_mcp, pkce

CLIENT_PATH = "/oauth/app/client.json"


@pytest.fixture
def documents(ca, trusted_ca) -> Iterator[MetadataServer]:
    with MetadataServer(ca, "localhost", "127.0.0.1") as running:
        yield running


@pytest.fixture
def app_settings(documents: MetadataServer) -> dict:
    return {"CLIENT_METADATA_TRUSTED_ORIGINS": documents.origin()}


def chatgpt_document(documents: MetadataServer, path: str = CLIENT_PATH, **changes) -> str:
    """ChatGPT's document as it publishes it: a public client for its connector callback."""
    return documents.serve_document(
        path,
        client_name=changes.pop("client_name", "ChatGPT"),
        redirect_uris=changes.pop("redirect_uris", [CONNECTOR]),
        token_endpoint_auth_method=None,
        token_endpoint_auth_methods_supported=["none", "private_key_jwt"],
        scope=None,
        **changes,
    )


def fetches(documents: MetadataServer, path: str = CLIENT_PATH) -> int:
    return sum(1 for requested, _ in documents.requests if requested == path)


def query(client_id: str, **params) -> dict:
    return authorize_query(client_id, CONNECTOR, **pkce(resource=MCP, **params))


def test_a_client_known_by_its_document_signs_in(app, documents, user_browser):
    client_id = chatgpt_document(documents)

    page = user_browser.get("/oauth/authorize", query_string=query(client_id))
    assert page.status_code == 200, page.text
    assert "Allow ChatGPT to use your TODO list?" in page.text
    assert f"own description at <strong>localhost:{documents.port}</strong>" in page.text
    assert "sent back to <strong>chatgpt.com</strong>" in page.text

    code = redirect_params(decide(user_browser, query(client_id)))["code"]
    tokens = exchange_for_mcp(app, client_id, code)
    assert tokens.status_code == 200, tokens.json
    with app.app_context():
        client = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == client_id))
        assert (client.origin, client.name, client.is_public) == ("metadata", "ChatGPT", True)
        assert client.redirect_uris == [CONNECTOR]

    listed = app.test_cli_runner().invoke(args=["clients", "list", "--json"])
    assert [c["origin"] for c in json.loads(listed.output)] == ["metadata"]

    # An admin can delete it from /admin, its URL of an id notwithstanding.
    with app.app_context():
        make_user("root@example.com", is_admin=True)
    admin = app.test_client()
    log_in(admin, "root@example.com")
    assert "known by its metadata document" in admin.get("/admin").text
    confirm = admin.get(f"/admin/clients/{client_id}/delete")
    assert confirm.status_code == 200 and "can do so again" in confirm.text
    deleted = post_form(
        admin, f"/admin/clients/{client_id}/delete", {"confirm": "yes"}, page="/admin"
    )
    assert deleted.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OAuthClient)) == 0


def test_the_document_is_kept_as_long_as_its_headers_say(app, documents, user_browser):
    client_id = documents.url(CLIENT_PATH)
    chatgpt_document(documents)
    documents.replies[CLIENT_PATH].headers["Cache-Control"] = "max-age=600"
    for _ in range(3):
        assert (
            user_browser.get("/oauth/authorize", query_string=query(client_id)).status_code == 200
        )
    assert fetches(documents) == 1

    # no-store: asked again at every authorization request, and a new name is seen at once.
    path = "/no-store.json"
    stale = chatgpt_document(documents, path, client_name="ChatGPT A")
    documents.replies[path].headers["Cache-Control"] = "no-store"
    assert "Allow ChatGPT A" in user_browser.get("/oauth/authorize", query_string=query(stale)).text
    chatgpt_document(documents, path, client_name="ChatGPT B")
    documents.replies[path].headers["Cache-Control"] = "no-store"
    code = redirect_params(decide(user_browser, query(stale)))["code"]
    assert fetches(documents, path) == 3  # the consent page, and the Allow that answered it
    with app.app_context():
        assert (
            db.session.scalar(sa.select(OAuthClient.name).where(OAuthClient.client_id == stale))
            == "ChatGPT B"
        )

    # The token endpoint takes the client as last fetched, though its document is stale and
    # its host down, so no one is signed out by it.
    documents.replies[path] = Reply(status=503)
    tokens = exchange_for_mcp(app, stale, code)
    assert tokens.status_code == 200, tokens.json
    assert fetches(documents, path) == 3


@pytest.mark.parametrize(
    "reply, says",
    [
        (Reply(status=302, headers={"Location": "https://localhost/elsewhere.json"}), "redirect"),
        (Reply(status=404), "status"),
        (Reply(body=b"x" * (64 * 1024 + 1)), "larger than"),
        (Reply(headers={"Content-Type": "text/html"}, body=b"<html>"), "JSON"),
    ],
)
def test_a_document_that_cannot_be_used_gives_a_page_saying_why(
    app, documents, user_browser, reply, says
):
    client_id = documents.serve(CLIENT_PATH, reply)
    page = user_browser.get("/oauth/authorize", query_string=query(client_id))
    assert page.status_code == 400
    assert "metadata document cannot be used" in page.text
    assert says.lower() in page.text.lower()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OAuthClient)) == 0


def test_its_redirect_uris_are_the_only_ones(app, documents, user_browser):
    client_id = chatgpt_document(documents)
    other = authorize_query(
        client_id, "https://chatgpt.com/connector/oauth/other", **pkce(resource=MCP)
    )
    page = user_browser.get("/oauth/authorize", query_string=other)
    assert page.status_code == 400


def test_a_document_with_callbacks_registration_does_not_allow_is_refused(
    app, documents, user_browser
):
    client_id = chatgpt_document(documents, redirect_uris=["https://assistant.example/cb"])
    page = user_browser.get(
        "/oauth/authorize",
        query_string=authorize_query(client_id, "https://assistant.example/cb", **pkce()),
    )
    assert page.status_code == 400
    assert "connector callbacks" in page.text


def test_a_client_id_is_its_document_url_exactly(app, documents, user_browser):
    url = documents.url(CLIENT_PATH)
    documents.serve_document(CLIENT_PATH, client_id=url + "/")
    page = user_browser.get("/oauth/authorize", query_string=query(url))
    assert page.status_code == 400
    assert "client_id" in page.text


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "10.0.0.1", "169.254.169.254", "[::1]", "[fd00::1]"]
)
@pytest.mark.parametrize("app_settings", [{}])  # no origin trusted
def test_documents_on_private_addresses_are_never_fetched(app, documents, user_browser, host):
    path = "/ssrf.json"
    documents.serve_document(path)
    client_id = f"https://{host}:{documents.port}{path}"
    page = user_browser.get("/oauth/authorize", query_string=query(client_id))
    assert page.status_code == 400
    assert "not a public internet address" in page.text
    assert documents.connections == 0


def test_http_documents_are_refused_even_from_a_trusted_origin(app, documents, user_browser):
    client_id = f"http://localhost:{documents.port}{CLIENT_PATH}"
    page = user_browser.get("/oauth/authorize", query_string=query(client_id))
    assert page.status_code == 400
    assert documents.connections == 0


class TestRegistrationOff:
    @pytest.fixture
    def app_settings(self, documents):
        return {
            "CLIENT_METADATA_TRUSTED_ORIGINS": documents.origin(),
            "CLIENT_REGISTRATION": "off",
        }

    def test_documents_are_not_fetched(self, app, documents, user_browser):
        client_id = chatgpt_document(documents)
        page = user_browser.get("/oauth/authorize", query_string=query(client_id))
        assert page.status_code == 400
        assert documents.connections == 0
