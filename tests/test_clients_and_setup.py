"""Managing OAuth clients (CLI and admin page) and the GPT setup guide."""

from __future__ import annotations

import json
import re
import shlex

import pytest
import sqlalchemy as sa

from app.audience import reachable_by_chatgpt
from app.extensions import db
from app.models import OAuthClient
from app.resources import all_scopes
from app.secrets_util import digest
from tests.browser import browser, csrf_token, log_in
from tests.factories import make_user
from tests.oauth_helpers import CALLBACK


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _create(runner, *args: str) -> dict:
    result = runner.invoke(args=["clients", "create", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _client(app, client_id: str) -> OAuthClient:
    with app.app_context():
        return db.session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == client_id))


def test_create_prints_id_and_secret_once_and_stores_a_digest(app, runner):
    created = _create(runner, "--name", "My GPT", "--gpt-id", "g-abc123")
    assert created["client_id"].startswith("tdc_")
    assert created["client_secret"].startswith("tds_")
    assert created["allowed_redirect_uris"] == [
        "https://chat.openai.com/aip/g-abc123/oauth/callback",
        "https://chatgpt.com/aip/g-abc123/oauth/callback",
    ]
    stored = _client(app, created["client_id"])
    assert stored.client_secret_digest == digest(created["client_secret"])
    listing = runner.invoke(args=["clients", "list"]).output
    assert created["client_id"] in listing
    assert created["client_secret"] not in listing


def test_add_redirect_with_a_chatgpt_callback_allows_both_hosts(app, runner):
    client_id = _create(runner, "--name", "My GPT")["client_id"]
    result = runner.invoke(args=["clients", "add-redirect", client_id, CALLBACK])
    assert result.exit_code == 0, result.output
    assert "on chatgpt.com and chat.openai.com" in result.output
    client = _client(app, client_id)
    assert client.check_redirect_uri(CALLBACK)
    assert client.check_redirect_uri(CALLBACK.replace("chatgpt.com", "chat.openai.com"))
    assert not client.check_redirect_uri(CALLBACK.replace("g-a1b2", "g-zzzz"))


@pytest.mark.parametrize(
    "callback",
    [CALLBACK, CALLBACK.replace("chatgpt.com", "chat.openai.com")],
    ids=["chatgpt.com", "chat.openai.com"],
)
def test_remove_redirect_takes_the_callback_url_add_redirect_took(app, runner, callback):
    client_id = _create(runner, "--name", "My GPT")["client_id"]
    runner.invoke(args=["clients", "add-redirect", client_id, CALLBACK])
    result = runner.invoke(args=["clients", "remove-redirect", client_id, callback])
    assert result.exit_code == 0, result.output
    client = _client(app, client_id)
    assert not client.check_redirect_uri(CALLBACK)
    assert not client.check_redirect_uri(CALLBACK.replace("chatgpt.com", "chat.openai.com"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add-redirect", "{id}", "http://example.com/cb"], "must be https"),
        (["add-redirect", "{id}", "https://example.com/cb#frag"], "fragment"),
        (["add-gpt", "{id}", "not-a-gpt"], "Not a GPT id"),
        (["add-gpt", "tdc_missing", "g-abc"], "No client with id"),
        (["rotate-secret", "tdc_missing"], "No client with id"),
    ],
)
def test_bad_client_changes_fail_with_one_clear_line(app, runner, args, message):
    client_id = _create(runner, "--name", "My GPT")["client_id"]
    result = runner.invoke(args=["clients", *[a.format(id=client_id) for a in args]])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_unknown_scope_is_refused(runner):
    result = runner.invoke(args=["clients", "create", "--name", "x", "--scope", "admin"])
    assert result.exit_code != 0
    assert "Unknown scopes: admin" in result.output


def test_rotate_secret_replaces_the_old_one(app, runner):
    created = _create(runner, "--name", "My GPT")
    result = runner.invoke(args=["clients", "rotate-secret", created["client_id"], "--json"])
    new_secret = json.loads(result.output)["client_secret"]
    client = _client(app, created["client_id"])
    assert client.check_client_secret(new_secret)
    assert not client.check_client_secret(created["client_secret"])


def test_delete_removes_the_client(app, runner):
    client_id = _create(runner, "--name", "My GPT")["client_id"]
    result = runner.invoke(args=["clients", "delete", client_id, "--yes"])
    assert result.exit_code == 0
    assert _client(app, client_id) is None


def test_any_chatgpt_client_is_flagged_in_the_listing(runner):
    _create(runner, "--name", "Dev GPT", "--any-chatgpt")
    assert "DEVELOPMENT ONLY" in runner.invoke(args=["clients", "list"]).output


def test_gpt_setup_for_oauth_lists_editor_values_in_order(runner):
    client_id = _create(runner, "--name", "My GPT", "--gpt-id", "g-abc123")["client_id"]
    result = runner.invoke(args=["gpt-setup", "--client", client_id, "--json"])
    assert result.exit_code == 0, result.output
    guide = json.loads(result.stdout)
    fields = [f["field"] for f in guide["fields"]]
    assert fields == [
        "Schema: Import from URL",
        "Authentication type",
        "Client ID",
        "Client Secret",
        "Authorization URL",
        "Token URL",
        "Scope",
        "Token Exchange Method",
        "Privacy policy",
    ]
    values = {f["field"]: f["value"] for f in guide["fields"]}
    assert values["Schema: Import from URL"] == "https://todo-action.test/openapi.json"
    assert values["Client ID"] == client_id
    assert values["Authorization URL"] == "https://todo-action.test/oauth/authorize"
    assert values["Token URL"] == "https://todo-action.test/oauth/token"
    assert values["Privacy policy"] == "https://todo-action.test/privacy"
    assert any(f"clients add-gpt {client_id}" in step for step in guide["steps"])
    # The seeds' advice: describe the action; never tell the model when to use it.
    assert "whenever" not in guide["instructions"].lower()


def test_gpt_setup_shows_how_to_connect_chatgpts_developer_mode_over_mcp(app, runner):
    client_id = _create(runner, "--name", "My GPT", "--gpt-id", "g-abc123")["client_id"]
    before = json.loads(runner.invoke(args=["gpt-setup", "--client", client_id, "--json"]).stdout)
    guide = before["mcp"]

    values = {f["field"]: f["value"] for f in guide["fields"]}
    assert values["MCP Server URL"] == "https://todo-action.test/mcp"
    # ChatGPT registers itself by default; the builder's own client is the other way.
    assert values["Authentication"] == "OAuth; leave Client ID and Client Secret empty"
    assert "client ID metadata document" in values["Registration"]
    assert "dynamic client registration" in values["Registration"]
    assert values["Client ID (static credentials only)"] == client_id
    assert values["Scopes"] == " ".join(all_scopes())
    assert guide["test_chat"] == "List my todos"
    # What the answer shows, and what to look at when the widget stays blank.
    widget = next(step for step in guide["steps"] if "widget" in step)
    assert "tick, add to, rename and delete from" in widget and "If it stays blank" in widget
    # The printed command, pasted into a shell as it is, allows ChatGPT's connector callback.
    command = next(step for step in guide["steps"] if "connector/oauth" in step)
    argv = shlex.split(command[command.index("flask --app app") :])
    assert argv[3:5] == ["clients", "add-redirect"]
    result = runner.invoke(args=argv[3:6] + ["https://chatgpt.com/connector/oauth/c_1a2b3c"])
    assert result.exit_code == 0, result.output
    legacy = "https://chatgpt.com/connector_platform_oauth_redirect"
    assert runner.invoke(args=["clients", "add-redirect", client_id, legacy]).exit_code == 0
    redirects = _client(app, client_id).redirect_uris
    assert {"https://chatgpt.com/connector/oauth/c_1a2b3c", legacy} <= set(redirects)
    # The GPT-action part is what it was.
    assert [f["field"] for f in before["fields"]][0] == "Schema: Import from URL"

    text = runner.invoke(args=["gpt-setup", "--client", client_id]).output
    assert "Connect as a ChatGPT app (MCP)" in text
    assert "https://todo-action.test/mcp" in text
    assert "List my todos" in text


@pytest.mark.parametrize("app_settings", [{"CLIENT_REGISTRATION": "off"}])
def test_with_registration_off_gpt_setup_gives_static_credentials_only(runner):
    client_id = _create(runner, "--name", "ChatGPT app")["client_id"]
    guide = json.loads(runner.invoke(args=["gpt-setup", "--json"]).stdout)["mcp"]
    values = {f["field"]: f["value"] for f in guide["fields"]}
    assert "static credentials" in values["Authentication"]
    assert "Registration" not in values
    assert values["Client ID"] == client_id
    assert any("clients add-redirect" in step for step in guide["steps"])


def test_clients_that_registered_themselves_are_not_offered_as_the_gpts(app, runner, client):
    client_id = _create(runner, "--name", "My GPT", "--gpt-id", "g-abc123")["client_id"]
    registered = client.post(
        "/oauth/register", json={"redirect_uris": ["https://chatgpt.com/connector/oauth/c_1"]}
    )
    assert registered.status_code == 201
    guide = json.loads(runner.invoke(args=["gpt-setup", "--json"]).stdout)
    assert {f["field"]: f["value"] for f in guide["fields"]}["Client ID"] == client_id


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("bearer", "Bearer"), ("basic", "Basic"), ("custom", "Custom")],
)
def test_gpt_setup_for_api_keys_names_the_sub_type(database_url, kind, expected):
    from tests.conftest import build_app

    app = build_app(
        database_url, ACTION_AUTH="apikey", API_KEY_AUTH_TYPE=kind, API_KEY_HEADER="X-Todo-Key"
    )
    output = app.test_cli_runner().invoke(args=["gpt-setup"]).output
    assert "Authentication type      API Key" in output
    assert "Auth Type" in output and expected in output
    assert ("X-Todo-Key" in output) == (kind == "custom")


def test_gpt_setup_in_none_mode_warns_about_the_shared_list(database_url):
    from tests.conftest import build_app

    app = build_app(database_url, ACTION_AUTH="none")
    output = app.test_cli_runner().invoke(args=["gpt-setup"]).output
    assert "Authentication type      None" in output
    assert "shares one demo list" in output


def _admin_browser(app, *, admin: bool = True):
    with app.app_context():
        make_user("root@example.com", is_admin=admin)
    client = app.test_client()
    log_in(client, "root@example.com")
    return client


def test_admin_pages_need_an_admin(app):
    anonymous = browser(app.test_client())
    assert anonymous.get("/admin").status_code == 302
    assert anonymous.get("/setup").status_code == 302
    user = _admin_browser(app, admin=False)
    assert user.get("/admin").status_code == 403
    assert user.get("/setup").status_code == 403


def test_admin_creates_a_client_and_sees_the_secret_once(app):
    client = _admin_browser(app)
    page = client.get("/admin")
    response = client.post(
        "/admin/clients",
        data={"name": "Web GPT", "gpt_ids": "g-web123", "csrf_token": csrf_token(page.text)},
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = response.text.split('Client Secret</p><p class="secret">')[1].split("<")[0]
    assert secret.startswith("tds_")
    listing = client.get("/admin").text
    assert "Web GPT" in listing and "g-web123" in listing
    assert secret not in listing
    with app.app_context():
        stored = db.session.scalar(sa.select(OAuthClient).where(OAuthClient.name == "Web GPT"))
        assert stored.check_client_secret(secret)


def test_admin_form_without_csrf_changes_nothing(app):
    client = _admin_browser(app)
    response = client.post("/admin/clients", data={"name": "Sneaky"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OAuthClient)) == 0


def test_setup_page_shows_the_guide(app):
    client = _admin_browser(app)
    page = client.get("/setup")
    assert page.status_code == 200
    assert "https://todo-action.test/openapi.json" in page.text
    assert "https://todo-action.test/oauth/token" in page.text
    assert "Conversation starters" in page.text
    assert "Connect as a ChatGPT app (MCP)" in page.text
    assert "https://todo-action.test/mcp" in page.text
    assert "clients add-redirect CLIENT_ID https://chatgpt.com/connector/oauth/" in page.text
    assert "List my todos" in page.text
    assert "If it stays blank" in page.text


@pytest.mark.parametrize("action", ["delete", "rotate-secret"])
def test_destructive_admin_actions_change_nothing_until_confirmed(app, chatgpt, action):
    client_id, secret = chatgpt
    admin = _admin_browser(app)
    listing = admin.get("/admin").text
    path = f"/admin/clients/{client_id}/{action}"
    assert f'href="{path}"' in listing

    # The listing's button and a bare form post (CSRF token, no confirmation) both only ask.
    asked = admin.get(path)
    posted = admin.post(path, data={"csrf_token": csrf_token(listing)})

    for page in (asked, posted):
        assert page.status_code == 200
        assert "Todo GPT" in page.text and "Cancel" in page.text
        assert 'name="confirm" value="yes"' in page.text
    assert _client(app, client_id).check_client_secret(secret)

    done = admin.post(path, data={"csrf_token": csrf_token(asked.text), "confirm": "yes"})

    assert done.status_code in (200, 302)
    stored = _client(app, client_id)
    assert stored is None if action == "delete" else not stored.check_client_secret(secret)
    if action == "rotate-secret":
        # The page shows the new secret once: no browser or proxy may keep it.
        assert done.headers["Cache-Control"] == "no-store"


def test_the_admin_page_allows_chatgpts_connector_callbacks(app, chatgpt):
    client_id, _ = chatgpt
    admin = _admin_browser(app)
    callbacks = [
        "https://chatgpt.com/connector/oauth/c_1a2b3c",
        "https://chatgpt.com/connector_platform_oauth_redirect",
    ]
    response = admin.post(
        f"/admin/clients/{client_id}/allow",
        data={"value": "\n".join(callbacks), "csrf_token": csrf_token(admin.get("/admin").text)},
    )
    assert response.status_code == 302
    assert set(callbacks) <= set(_client(app, client_id).redirect_uris)
    listing = admin.get("/admin").text
    assert all(callback in listing for callback in callbacks)


@pytest.mark.parametrize(
    ("url", "reachable"),
    [
        ("https://todo.example.com", True),
        ("https://203.0.113.9", False),  # documentation range, not the internet's
        ("https://8.8.8.8", True),
        ("http://todo.example.com", False),
        ("http://127.0.0.1:8000", False),
        ("https://localhost:8443", False),
        ("https://[::1]", False),
        ("https://10.0.0.5", False),
        ("https://todo.local", False),
        ("https://todo-action.test", False),
        ("https://nas.home.arpa", False),
        ("https://intranet", False),
    ],
)
def test_reachable_by_chatgpt_means_https_on_the_public_internet(url, reachable):
    assert reachable_by_chatgpt(url) is reachable


def test_setup_page_says_when_chatgpt_cannot_reach_public_url(app):
    page = _admin_browser(app).get("/setup")
    warning = re.search(
        r'<p class="flash warning" role="alert">([^<]*PUBLIC_URL[^<]*)</p>', page.text
    )
    assert warning, page.text
    assert "https://todo-action.test, which ChatGPT cannot reach" in warning.group(1)
    assert "tunnel" in warning.group(1)


@pytest.mark.parametrize("app_settings", [{"PUBLIC_URL": "https://todo.example.com"}])
def test_setup_page_has_no_warning_for_a_public_https_url(app):
    page = _admin_browser(app).get("/setup")
    assert "https://todo.example.com/openapi.json" in page.text
    assert "cannot reach" not in page.text
