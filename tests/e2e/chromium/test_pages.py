"""A person in a real browser: headless Chromium (Debian's) driven by Playwright.

Sign up, log in, create an API key (shown once, then only its prefix), connect an OAuth client
through the consent page, export the data, delete the account. Any console error fails the
test; a screenshot of each page is kept in the test's temp dir.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app
from app.extensions import db
from tests.e2e.conftest import serving, shot
from tests.factories import PASSWORD, make_client, make_user
from tests.oauth_helpers import CALLBACK

EMAIL = "grace@example.com"


@pytest.fixture
def site(gunicorn_server):
    # Plain http on loopback, as a developer runs it: testing mode sets no Secure cookies and
    # no https referrer checks, which a browser talking http straight to gunicorn would fail.
    server = gunicorn_server(APP_ENV="testing", ACTION_AUTH="oauth")
    app = create_app(dict(server.env))
    with app.app_context():
        client_id, _ = make_client("Browser GPT")
        db.session.remove()
        db.engine.dispose()
    return server, client_id


def test_a_person_signs_up_makes_a_key_connects_a_gpt_exports_and_leaves(site, page):
    server, client_id = site
    base = server.url

    page.goto(f"{base}/")
    shot(page, "01-landing")
    page.click("text=Sign up")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    shot(page, "02-signup")
    page.click("button[type=submit]")
    # Sign-up answers the same whether or not the address had an account, so it logs no one in.
    page.wait_for_url(f"{base}/login")
    assert "Your account is ready" in page.inner_text("main")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    shot(page, "03-login")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/account")
    assert EMAIL in page.inner_text("main")
    shot(page, "04-account")

    # An API key: shown once, then only its prefix.
    page.fill("input[name=name]", "My GPT")
    page.check("input[name=scopes][value='todos:read']")
    page.click("button:has-text('Create key')")
    key = page.inner_text("#new-key").strip()
    assert key.startswith("tdk_")
    shot(page, "05-key-created")
    page.goto(f"{base}/account")
    text = page.inner_text("main")
    assert key not in page.content()
    assert key[:12] in text
    shot(page, "06-key-listed")

    # Connect the GPT: ChatGPT's sign-in link, the consent page, Allow.
    captured: dict = {}

    def chatgpt_callback(route):
        captured.update(parse_qs(urlsplit(route.request.url).query))
        route.fulfill(status=200, content_type="text/html", body="<p>Signed in</p>")

    page.route("https://chatgpt.com/**", chatgpt_callback)
    page.goto(
        f"{base}/oauth/authorize?response_type=code&client_id={client_id}"
        f"&redirect_uri={CALLBACK}&scope=&state=browser-state"
    )
    assert "Browser GPT" in page.inner_text("main")
    assert "See your todos" in page.inner_text("main")
    shot(page, "07-consent")
    page.click("button[value=allow]")
    page.wait_for_url("https://chatgpt.com/**")
    assert captured["state"] == ["browser-state"]
    assert captured["code"][0]

    page.goto(f"{base}/account")
    assert "Browser GPT" in page.inner_text("main")
    shot(page, "08-connected")

    with page.expect_download() as download_info:
        page.click("button:has-text('Export my data')")
    exported = json.loads(Path(download_info.value.path()).read_text())
    assert exported["account"]["email"] == EMAIL
    assert [k["name"] for k in exported["api_keys"]] == ["My GPT"]
    assert key not in json.dumps(exported)

    page.fill("form[action$='/account/delete'] input[name=password]", PASSWORD)
    shot(page, "09-before-delete")
    page.click("button:has-text('Delete my account')")
    page.wait_for_url(f"{base}/**")
    shot(page, "10-deleted")
    page.goto(f"{base}/login")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.expected_console_error = (
        "Failed to load resource: the server responded with a status of 401 (UNAUTHORIZED)"
    )
    page.click("button[type=submit]")
    assert "Wrong email or password" in page.inner_text("main")
    assert page.url.startswith(f"{base}/login")


@pytest.fixture
def admin_site(gunicorn_server):
    """An oauth server with an admin (EMAIL) and a client whose values run long."""
    server = gunicorn_server(APP_ENV="testing", ACTION_AUTH="oauth")
    app = create_app(dict(server.env))
    with app.app_context():
        make_user(EMAIL, is_admin=True)
        client_id, _ = make_client(
            "A GPT with a rather long name for the consent page and the setup guide",
            redirect_uris=["https://example.com/" + "very-long-path-segment/" * 8 + "callback"],
        )
        db.session.remove()
        db.engine.dispose()
    return server, client_id


def log_in_as(page, base: str, email: str = EMAIL) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/account")


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_the_setup_page_fits_the_screen_without_sideways_scrolling(admin_site, page, width, height):
    server, client_id = admin_site
    page.set_viewport_size({"width": width, "height": height})
    log_in_as(page, server.url)

    for path in ("/setup", "/admin"):
        page.goto(f"{server.url}{path}")
        shot(page, f"{path.strip('/')}-{width}")
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, f"{path} scrolls sideways at {width}px"
        assert blocks_cut_off(page) == [], f"{path} at {width}px"
    assert client_id in page.inner_text("main")


def blocks_cut_off(page) -> list[str]:
    """Blocks of the page that hide part of a line behind a scroll bar of their own."""
    return page.evaluate(
        """[...document.querySelectorAll("main pre, main td, main th, main li, main p")]
            .filter(e => e.scrollWidth > e.clientWidth + 1)
            .map(e => e.textContent.trim().slice(0, 60))"""
    )


def test_sign_in_pages_read_whole_on_a_phone(admin_site, page):
    server, client_id = admin_site
    base = server.url
    page.set_viewport_size({"width": 390, "height": 844})
    log_in_as(page, base)

    consent = (
        f"{base}/oauth/authorize?response_type=code&client_id={client_id}"
        f"&redirect_uri=https://example.com/{'very-long-path-segment/' * 8}callback"
        "&scope=todos:read+todos:write&state=phone"
    )
    page.goto(consent)
    shot(page, "consent-390")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert blocks_cut_off(page) == []
    # A scope's name is one word to the reader: on one line, never broken inside.
    lines = page.evaluate(
        "[...document.querySelectorAll('ul.scopes code')]"
        ".map(e => [e.textContent, e.getClientRects().length])"
    )
    assert sorted(name for name, _ in lines) == ["todos:read", "todos:write"]
    assert all(count == 1 for _, count in lines), lines

    # A GPT's callback that is not allowed yet: the refusal says so once, with the command to
    # run, which shows whole.
    callback = f"https://chatgpt.com/aip/g-{'0123456789abcdef' * 2}/oauth/callback"
    page.expected_console_error = re.compile(r"status of 400")
    page.goto(
        f"{base}/oauth/authorize?response_type=code&client_id={client_id}"
        f"&redirect_uri={callback}&scope=todos:read&state=phone"
    )
    shot(page, "refused-390")
    main = page.inner_text("main")
    assert main.count("is not allowed for") == 1, main
    assert "not supported" not in main.lower(), main
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert blocks_cut_off(page) == []
    command = page.inner_text("pre.command")
    assert command.split() == [
        "flask",
        "--app",
        "app",
        "clients",
        "add-gpt",
        client_id,
        f"g-{'0123456789abcdef' * 2}",
    ]


def test_pages_carry_the_headers_and_the_consent_page_refuses_to_be_framed(admin_site, page):
    server, client_id = admin_site
    base = server.url
    log_in_as(page, base)
    consent = (
        f"{base}/oauth/authorize?response_type=code&client_id={client_id}"
        f"&redirect_uri=https://example.com/{'very-long-path-segment/' * 8}callback"
        "&scope=&state=framed-state"
    )
    for path in ("/", "/account", "/setup", "/admin", "/privacy", consent.removeprefix(base)):
        response = page.goto(f"{base}{path}")
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path
    assert page.locator("button[value=allow]").count() == 1

    # Another origin (a port of its own) puts the consent page in a frame.
    framing = (
        '<!doctype html><link rel="icon" href="data:,"><h1>Win a prize</h1>'
        f'<iframe src="{consent}" width="800"></iframe>'
    )
    with serving({"/": (framing, {})}) as framer:
        page.expected_console_error = re.compile(r"frame-ancestors 'none'")
        page.goto(f"{framer}/")
        page.wait_for_load_state("load")
        shot(page, "framed-consent")
        frames = [frame for frame in page.frames if frame != page.main_frame]
        assert len(frames) == 1
        assert frames[0].url != consent
        assert frames[0].locator("button[value=allow]").count() == 0
        assert "Win a prize" in page.inner_text("body")


def test_api_docs_render_under_the_content_security_policy(site, page):
    server, _ = site
    page.goto(f"{server.url}/docs/")
    page.wait_for_selector(".opblock")
    shot(page, "docs")
    assert "getTodos" in page.inner_text("body") or "/todos" in page.inner_text("body")
