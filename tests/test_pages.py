"""Pages for people and platforms: home, privacy policy, API docs, health check, and the public
URLs the app gives out when it runs behind a proxy."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from flask import url_for

from tests.conftest import TEST_PUBLIC_URL, build_app


@pytest.fixture
def app_settings(request) -> dict:
    return getattr(request, "param", {})


def _hrefs(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


@pytest.mark.parametrize(
    "app_settings",
    [
        {
            "OPERATOR_NAME": "Ada & <Co>",
            "CONTACT_EMAIL": "privacy@ada.example",
            "DATA_RETENTION_DAYS": "14",
        }
    ],
    indirect=True,
)
def test_privacy_page_shows_the_operators_details(client):
    response = client.get("/privacy")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Ada &amp; &lt;Co&gt;" in html and "<Co>" not in html
    assert 'href="mailto:privacy@ada.example"' in html
    assert "14 days" in html


def test_privacy_page_defaults(client):
    html = client.get("/privacy").get_data(as_text=True)

    assert "The operator of this service" in html
    assert "privacy@example.com" in html
    assert "30 days" in html


def test_privacy_page_says_what_is_stored_and_how_to_export_and_delete(client):
    text = re.sub(r"<[^>]+>", " ", client.get("/privacy").get_data(as_text=True)).lower()

    assert "what we store" in text
    for stored in ("todos", "email", "request logs"):
        assert stored in text
    assert "export" in text
    assert "delete" in text


def test_privacy_page_covers_chatgpt_apps_over_mcp_like_gpts(client):
    text = " ".join(re.sub(r"<[^>]+>", " ", client.get("/privacy").get_data(as_text=True)).split())

    assert "ChatGPT apps (MCP)" in text
    assert "handled like a GPT" in text
    assert "Disconnect a GPT or a ChatGPT app" in text


def test_home_page_links_to_spec_docs_and_privacy(client):
    response = client.get("/")

    assert response.status_code == 200
    hrefs = _hrefs(response.get_data(as_text=True))
    for path in ("/openapi.json", "/docs/", "/privacy"):
        assert f"{TEST_PUBLIC_URL}{path}" in hrefs, path
    for href in hrefs:
        linked = client.get(href.removeprefix(TEST_PUBLIC_URL))
        linked.close()
        assert linked.status_code == 200, href


def test_docs_page_is_swagger_ui_reading_the_served_spec(client):
    assert client.get("/docs").location.endswith("/docs/")
    response = client.get("/docs/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    config = json.loads(unescape(re.search(r'data-config="([^"]*)"', html).group(1)))
    assert config["url"] == "/openapi.json"
    script = client.get("/static/docs.js")
    assert "SwaggerUIBundle" in script.get_data(as_text=True)
    script.close()


def test_docs_page_loads_swagger_ui_from_this_server_without_inline_script(client):
    html = client.get("/docs/").get_data(as_text=True)

    sources = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/") for source in sources), sources
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        asset.close()
    bundle = client.get("/docs/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.get_data(as_text=True)
    bundle.close()


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{tmp}/missing-dir/todo.sqlite3", "postgresql://postgres@127.0.0.1:1/todo"],
    ids=["sqlite in a missing directory", "postgres on a closed port"],
)
def test_healthz_answers_503_json_when_the_database_does_not(tmp_path, url):
    app = build_app(url.format(tmp=tmp_path))

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.mimetype == "application/json"
    assert response.json["status"] != "ok"
    assert response.json["message"]


# Proxy: the app is reached at http://10.0.0.7:8000 and the proxy says where the request came in.
INTERNAL = "http://10.0.0.7:8000"


def _external_url_probe(app):
    app.add_url_rule(
        "/_probe/external-url", "probe", lambda: url_for("web.privacy", _external=True)
    )


def test_behind_the_proxy_external_urls_are_the_public_url(app, client):
    _external_url_probe(app)
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "todo-action.test"}

    response = client.get("/_probe/external-url", base_url=INTERNAL, headers=headers)

    assert response.get_data(as_text=True) == f"{TEST_PUBLIC_URL}/privacy"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "attacker.example"},
        {"X-Forwarded-Proto": "https", "Host": "attacker.example"},
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "attacker.example:8443"},
    ],
    ids=["forwarded host", "host header", "forwarded host and port"],
)
def test_a_forged_host_does_not_change_external_urls_or_the_spec(app, client, headers):
    _external_url_probe(app)

    probe = client.get("/_probe/external-url", base_url=INTERNAL, headers=headers)
    spec = client.get("/openapi.json", base_url=INTERNAL, headers=headers)
    home = client.get("/", base_url=INTERNAL, headers=headers).get_data(as_text=True)

    assert probe.get_data(as_text=True) == f"{TEST_PUBLIC_URL}/privacy"
    assert spec.json["servers"] == [{"url": TEST_PUBLIC_URL}]
    assert "attacker" not in home


def test_spec_server_ignores_forwarded_headers(client):
    headers = {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "10.0.0.7:8000"}

    for path in ("/openapi.json", "/openapi.yaml"):
        body = client.get(path, base_url=INTERNAL, headers=headers).get_data(as_text=True)
        assert TEST_PUBLIC_URL in body
        assert "10.0.0.7" not in body
