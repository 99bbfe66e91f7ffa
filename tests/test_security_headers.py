"""Pages that cannot be framed, sniffed or fed foreign script, and links that a forged proxy
header cannot bend. The real browser's side of it is in tests/e2e/chromium/test_pages.py."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlencode

import pytest
from flask import Flask

from tests.browser import browser, log_in
from tests.conftest import build_app
from tests.factories import make_user
from tests.oauth_helpers import authorize_query
from tests.shell import pasted


@pytest.fixture
def admin_browser(app: Flask):
    with app.app_context():
        make_user("root@example.com", is_admin=True)
    client = app.test_client()
    log_in(client, "root@example.com")
    return client


def _consent_path(chatgpt) -> str:
    return f"/oauth/authorize?{urlencode(authorize_query(chatgpt[0]))}"


def _pages(app: Flask, chatgpt, admin_browser) -> list[tuple[str, int, object]]:
    """Every kind of page, with the status it answers with, fetched as a browser would:
    (path, status, response)."""
    anonymous = browser(app.test_client())
    pages = [("/login", 200, anonymous), ("/signup", 200, anonymous)]
    for path, status in [
        ("/", 200),
        ("/account", 200),
        (_consent_path(chatgpt), 200),
        ("/admin", 200),
        ("/setup", 200),
        ("/privacy", 200),
        ("/docs/", 200),
        ("/admin/clients", 405),
        ("/admin/clients/tdc_nobody/delete", 404),
        ("/no/such/page", 404),
        ("/todos/no-such-todo", 404),
    ]:
        pages.append((path, status, admin_browser))
    return [
        (path, status, client.get(path, headers={"Accept": "text/html"}))
        for path, status, client in pages
    ]


def _directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()
    }


def test_every_page_refuses_framing_sniffing_and_foreign_script(app, chatgpt, admin_browser):
    for path, status, response in _pages(app, chatgpt, admin_browser):
        assert response.status_code == status, path
        assert response.mimetype == "text/html", path
        policy = _directives(response)
        assert policy["frame-ancestors"] == "'none'", path
        assert policy["default-src"] == "'self'", path
        assert "script-src" not in policy or "unsafe" not in policy["script-src"], path
        assert policy["object-src"] == "'none'", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        # The consent page's URL holds the OAuth state: no other origin may see it.
        assert response.headers["Referrer-Policy"] in ("no-referrer", "same-origin"), path


def test_no_page_has_script_or_style_the_policy_would_block(app, chatgpt, admin_browser):
    for path, _, response in _pages(app, chatgpt, admin_browser):
        html = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), path
        assert not re.search(r"<[^>]+\sstyle\s*=", html), path
        assert "<style" not in html, path
        assert "javascript:" not in html, path


def test_json_answers_are_not_sniffed_either(client):
    for path in ("/openapi.json", "/healthz", "/todos"):
        response = client.get(path)
        assert response.mimetype == "application/json", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path


def test_production_tells_browsers_to_keep_to_https(database_url):
    app = build_app(database_url, APP_ENV="production")

    response = app.test_client().get("/", base_url="https://todo-action.test")

    hsts = response.headers["Strict-Transport-Security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 180 * 24 * 3600


def test_development_and_tests_do_not_pin_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


# The app reached at http://10.0.0.7:8000 behind one proxy; a client adds headers of its own.
INTERNAL = "http://10.0.0.7:8000"
FORGED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Prefix": "/evil",
    "X-Forwarded-Host": "attacker.example",
    "X-Forwarded-Port": "8443",
}


def test_forged_forwarded_prefix_and_host_change_no_link_or_redirect(app, chatgpt):
    client = browser(app.test_client())

    to_login = client.get(_consent_path(chatgpt), base_url=INTERNAL, headers=FORGED)
    login = client.get("/login", base_url=INTERNAL, headers=FORGED).get_data(as_text=True)
    docs = client.get("/docs", base_url=INTERNAL, headers=FORGED)

    assert to_login.status_code == 302
    assert to_login.location.startswith(("/login?", "https://todo-action.test/login?"))
    assert docs.location in ("/docs/", "https://todo-action.test/docs/")
    links = re.findall(r'(?:href|action|src)="([^"]+)"', login)
    assert links
    for link in links:
        assert "/evil" not in link and "attacker" not in link, link


def test_a_browser_lost_on_the_site_gets_a_page_with_a_way_back(client):
    response = client.get("/no/such/page", headers={"Accept": "text/html,*/*;q=0.8"})

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Page not found" in response.text
    assert 'href="/"' in response.text and 'href="/login"' in response.text


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_programs_still_get_json_for_a_missing_path(client, accept):
    headers = {"Accept": accept} if accept else {}

    response = client.get("/no/such/page", headers=headers)

    assert response.status_code == 404
    assert response.json["code"] == 404


@pytest.mark.parametrize("path", ["/admin", "/setup"])
def test_a_non_admin_is_told_how_an_operator_makes_them_admin(app, path, tmp_path):
    with app.app_context():
        make_user("o'brien@example.com")
    client = app.test_client()
    log_in(client, "o'brien@example.com")

    response = client.get(path)

    assert response.status_code == 403
    assert response.mimetype == "text/html"
    command = unescape(re.search(r"<pre[^>]*>(.*?)</pre>", response.text, re.S).group(1))
    assert pasted(command, tmp_path) == [
        "--app",
        "app",
        "users",
        "set-admin",
        "o'brien@example.com",
    ]
