"""A person in a real browser: headless Chromium (Debian's) driven by Playwright.

Sign up, log in, create an API key (shown once, then only its prefix), connect an OAuth client
through the consent page, export the data, delete the account. Any console error fails the
test; a screenshot of each page is kept in the test's temp dir.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app
from app.extensions import db
from tests.factories import PASSWORD, make_client
from tests.oauth_helpers import CALLBACK

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Chromium is not installed (apt-get install chromium; .ci/run installs it)",
)
# Without these, Chromium reaches for Google's services and stalls on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
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


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        # Chromium logs a refused log-in (a 401 document) as an error; the test says when it
        # expects exactly that, and nothing else is forgiven.
        page.expected_console_error = None

        def on_console(message) -> None:
            if message.type == "error" and message.text != page.expected_console_error:
                errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.shots = tmp_path / "screenshots"
        page.shots.mkdir()
        yield page
        context.close()
        browser.close()
    assert errors == [], f"console errors: {errors}"


def shot(page, name: str) -> None:
    page.screenshot(path=str(page.shots / f"{name}.png"), full_page=True)


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
