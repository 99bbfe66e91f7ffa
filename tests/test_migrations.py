"""Models and migrations describe the same schema, on every backend the suite runs on."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import db
from app.models import Consent, OAuthClient
from tests.browser import post_form
from tests.conftest import TEST_DATABASE_URL, TEST_PUBLIC_URL
from tests.oauth_helpers import exchange, get_code, refresh, sign_in, token_works


def _differences(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_autogenerate_finds_nothing_after_upgrade(app):
    assert _differences(app) == []


def test_downgrade_to_base_and_upgrade_again(app):
    with app.app_context():
        downgrade(revision="base")
        tables = set(db.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
    assert _differences(app) == []


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite reuses freed ids; PostgreSQL never")
def test_on_sqlite_every_table_with_an_id_uses_autoincrement(app):
    # Alembic compares no table options, so the drift test above cannot see a missing flag.
    with app.app_context(), db.engine.connect() as conn:
        tables = dict(
            conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type='table'")).all()
        )
    for table in db.metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key:
            assert "AUTOINCREMENT" in tables[table.name], table.name


def test_a_sign_in_made_before_an_upgrade_keeps_working_after_it(app, account, chatgpt):
    client_id, secret = chatgpt
    token = sign_in(app, client_id, secret)
    with app.app_context():
        # Back to where a grant held its refresh token itself, and forward again.
        downgrade(revision="0007")
        upgrade()
        db.session.remove()

    refreshed = refresh(app.test_client(), client_id, secret, token["refresh_token"])

    assert refreshed.status_code == 200, refreshed.json
    assert token_works(app, refreshed.json["access_token"])
    assert token_works(app, token["access_token"])


def test_a_downgrade_past_resources_ends_only_the_sign_ins_for_a_resource(
    app, user_browser, chatgpt
):
    client_id, secret = chatgpt
    api_token = sign_in(app, client_id, secret)
    code = get_code(user_browser, client_id, resource=f"{TEST_PUBLIC_URL}/mcp")
    mcp_token = exchange(app.test_client(), client_id, secret, code).json
    with app.app_context():
        # Without the column, a token for the MCP endpoint would pass for one for the API.
        downgrade(revision="0008")
        upgrade()
        db.session.remove()

    assert token_works(app, api_token["access_token"])
    assert not token_works(app, mcp_token["access_token"])
    server = app.test_client()
    assert refresh(server, client_id, secret, api_token["refresh_token"]).status_code == 200
    assert refresh(server, client_id, secret, mcp_token["refresh_token"]).status_code == 400


def test_an_mcp_sign_in_from_before_consent_per_resource_can_be_seen_and_disconnected(
    app, user_browser, chatgpt
):
    """Before 0010 a client had one consent for all its sign-ins; after it, each resource has
    its own, and the account page must still show, and end, an MCP sign-in made before."""
    client_id, secret = chatgpt
    mcp = f"{TEST_PUBLIC_URL}/mcp"
    code = get_code(user_browser, client_id, resource=mcp)
    mcp_token = exchange(app.test_client(), client_id, secret, code).json
    with app.app_context():
        downgrade(revision="0009")
        upgrade()
        db.session.remove()

    account = user_browser.get("/account").text
    assert "MCP (ChatGPT app)" in account and "API (GPT action)" not in account
    with app.app_context():
        pk = db.session.scalar(sa.select(OAuthClient.id).where(OAuthClient.client_id == client_id))
    ended = post_form(
        user_browser, f"/account/apps/{pk}/disconnect", {"resource": mcp}, page="/account"
    )
    assert ended.status_code == 302
    refused = app.test_client().post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={
            "Authorization": f"Bearer {mcp_token['access_token']}",
            "Accept": "application/json, text/event-stream",
        },
    )
    assert refused.status_code == 401


def test_a_client_with_both_kinds_of_sign_in_keeps_a_consent_for_each_after_0010(
    app, user_browser, chatgpt
):
    client_id, secret = chatgpt
    api_token = sign_in(app, client_id, secret)
    code = get_code(user_browser, client_id, resource=f"{TEST_PUBLIC_URL}/mcp")
    exchange(app.test_client(), client_id, secret, code)
    with app.app_context():
        downgrade(revision="0009")  # one consent per client again
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Consent)) == 1
        db.session.remove()
        upgrade()
        db.session.remove()
        resources = set(db.session.scalars(sa.select(Consent.resource)))
    assert resources == {"", f"{TEST_PUBLIC_URL}/mcp"}
    assert token_works(app, api_token["access_token"])
