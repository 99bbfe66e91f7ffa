"""The account page's data controls: connected apps, export, and deleting the account."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    AccessToken,
    ApiKey,
    AuthorizationCode,
    Consent,
    OAuthClient,
    OAuthGrant,
    RefreshToken,
    User,
    UserSession,
)
from app.resources import all_scopes
from app.todos.models import Todo
from tests.browser import browser, log_in, post_form
from tests.factories import PASSWORD, make_key, make_todo, make_user
from tests.oauth_helpers import authorize_query, bearer, refresh, sign_in


@pytest.fixture
def world(app, chatgpt):
    """Ada and Eve, each with a todo, an API key and ChatGPT connected through OAuth."""
    client_id, secret = chatgpt
    with app.app_context():
        ada = make_user("ada@example.com")
        eve = make_user("eve@example.com")
        make_todo(ada, "Ada's todo", notes="ada notes")
        make_todo(eve, "Eve's secret", notes="eve notes")
        _, ada_key = make_key(ada, name="Ada's GPT")
        _, eve_key = make_key(eve, name="Eve's GPT")
        ids = {"ada": ada.id, "eve": eve.id}
    return {
        "ids": ids,
        "client_id": client_id,
        "secret": secret,
        "ada_key": ada_key,
        "eve_key": eve_key,
        "ada_tokens": sign_in(app, client_id, secret, "ada@example.com"),
        "eve_tokens": sign_in(app, client_id, secret, "eve@example.com"),
    }


def _client_pk(app, client_id: str) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(OAuthClient.id).where(OAuthClient.client_id == client_id)
        )


def test_connected_apps_lists_the_gpts_the_user_allowed(app, client, world):
    log_in(client)

    html = client.get("/account").get_data(as_text=True)

    assert "Todo GPT" in html
    for scope in all_scopes():
        assert f"<code>{scope}</code>" in html
    pk = _client_pk(app, world["client_id"])
    assert f'action="/account/apps/{pk}/disconnect"' in html


def test_disconnect_ends_the_apps_access_at_once_and_asks_again_next_time(app, client, world):
    access = world["ada_tokens"]["access_token"]
    assert client.get("/todos", headers=bearer(access)).status_code == 200
    log_in(client)
    pk = _client_pk(app, world["client_id"])

    response = post_form(client, f"/account/apps/{pk}/disconnect", page="/account")

    assert response.status_code == 302
    assert "Todo GPT is disconnected" in client.get("/account").get_data(as_text=True)
    denied = client.get("/todos", headers=bearer(access))
    assert denied.status_code == 401
    assert "WWW-Authenticate" in denied.headers
    again = refresh(
        app.test_client(), world["client_id"], world["secret"], world["ada_tokens"]["refresh_token"]
    )
    assert again.status_code == 400
    assert again.json["error"] == "invalid_grant"
    # No standing consent: the next sign-in shows the question again.
    consent_page = client.get("/oauth/authorize", query_string=authorize_query(world["client_id"]))
    assert consent_page.status_code == 200
    assert "Allow" in consent_page.get_data(as_text=True)
    # Eve's connection to the same GPT is hers alone.
    eve_access = world["eve_tokens"]["access_token"]
    assert client.get("/todos", headers=bearer(eve_access)).status_code == 200


def test_disconnecting_an_app_the_user_never_connected_is_404(app, client, world):
    with app.app_context():
        make_user("bob@example.com")
    log_in(client, "bob@example.com")
    pk = _client_pk(app, world["client_id"])

    response = post_form(client, f"/account/apps/{pk}/disconnect", page="/account")

    assert response.status_code == 404
    assert (
        client.get("/todos", headers=bearer(world["ada_tokens"]["access_token"])).status_code == 200
    )


def _export(client):
    return post_form(client, "/account/export", page="/account")


def test_export_downloads_the_users_data_as_a_json_attachment(app, client, world):
    client.get("/todos", headers=bearer(world["ada_key"]))
    log_in(client)

    response = _export(client)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == "ada@example.com"
    assert data["account"]["created_at"]
    assert [(t["title"], t["notes"], t["done"]) for t in data["todos"]] == [
        ("Ada's todo", "ada notes", False)
    ]
    [key] = data["api_keys"]
    assert (key["name"], key["scopes"], key["status"]) == (
        "Ada's GPT",
        list(all_scopes()),
        "active",
    )
    assert key["prefix"] == world["ada_key"][:12]
    assert key["last_used_at"] is not None
    [connected] = data["connected_apps"]
    assert connected["client_name"] == "Todo GPT"
    assert connected["scopes"] == list(all_scopes())
    [grant] = data["oauth_grants"]
    assert (grant["client_name"], grant["revoked_at"]) == ("Todo GPT", None)
    assert [set(s) for s in data["sessions"]] == [{"started_at", "last_seen_at"}] * 2


def test_export_holds_nobody_elses_data_and_no_secret_or_digest(app, client, world):
    log_in(client)

    text = _export(client).get_data(as_text=True)

    assert "eve" not in text.lower()
    with app.app_context():
        digests = [
            *db.session.scalars(sa.select(ApiKey.digest)),
            *db.session.scalars(sa.select(AccessToken.digest)),
            *db.session.scalars(sa.select(RefreshToken.digest)),
            *db.session.scalars(sa.select(AuthorizationCode.code_digest)),
            *db.session.scalars(sa.select(User.password_hash)),
            *db.session.scalars(sa.select(UserSession.token_digest)),
        ]
    assert digests
    for secret in [*digests, world["ada_key"], *world["ada_tokens"].values()]:
        assert str(secret) not in text
    assert "digest" not in text and "password" not in text


def test_export_needs_a_signed_in_post(app, client, world):
    browser(client)
    assert client.get("/account/export").status_code == 405
    response = post_form(client, "/account/export")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def _owned_rows(user_id: int) -> dict[str, int]:
    def count(query) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))

    grants = sa.select(OAuthGrant.id).where(OAuthGrant.user_id == user_id)
    return {
        "users": count(sa.select(User.id).where(User.id == user_id)),
        "todos": count(sa.select(Todo.id).where(Todo.owner_id == user_id)),
        "api_keys": count(sa.select(ApiKey.id).where(ApiKey.user_id == user_id)),
        "oauth_grants": count(grants),
        "oauth_access_tokens": count(
            sa.select(AccessToken.id).where(AccessToken.grant_pk.in_(grants))
        ),
        "oauth_refresh_tokens": count(
            sa.select(RefreshToken.id).where(RefreshToken.grant_pk.in_(grants))
        ),
        "oauth_authorization_codes": count(
            sa.select(AuthorizationCode.id).where(AuthorizationCode.user_id == user_id)
        ),
        "oauth_consents": count(sa.select(Consent.id).where(Consent.user_id == user_id)),
        "user_sessions": count(sa.select(UserSession.id).where(UserSession.user_id == user_id)),
    }


def _orphans() -> int:
    grants = sa.select(OAuthGrant.id)
    return sum(
        db.session.scalar(
            sa.select(sa.func.count()).select_from(model).where(model.grant_pk.not_in(grants))
        )
        for model in (AccessToken, RefreshToken)
    )


def test_delete_account_removes_everything_and_every_credential_stops_working(app, client, world):
    ada, eve = world["ids"]["ada"], world["ids"]["eve"]
    with app.app_context():
        before_ada, before_eve = _owned_rows(ada), _owned_rows(eve)
    assert all(n >= 1 for n in before_ada.values()), before_ada
    log_in(client)

    response = post_form(client, "/account/delete", {"password": PASSWORD}, page="/account")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "Your account and all its data are deleted." in client.get("/").get_data(as_text=True)
    with app.app_context():
        assert _owned_rows(ada) == dict.fromkeys(before_ada, 0)
        assert _owned_rows(eve) == before_eve
        assert _orphans() == 0
    assert client.get("/account").status_code == 302
    assert client.get("/todos", headers=bearer(world["ada_key"])).status_code == 401
    access = world["ada_tokens"]["access_token"]
    assert client.get("/todos", headers=bearer(access)).status_code == 401
    assert client.get("/todos", headers=bearer(world["eve_key"])).status_code == 200
    failed = post_form(client, "/login", {"email": "ada@example.com", "password": PASSWORD})
    assert failed.status_code == 401


def test_the_email_of_a_deleted_account_can_sign_up_again(app, client, world):
    log_in(client)
    post_form(client, "/account/delete", {"password": PASSWORD}, page="/account")

    again = post_form(
        client,
        "/signup",
        {"email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD},
        page="/signup",
    )

    assert again.status_code == 302
    log_in(client)
    data = json.loads(_export(client).get_data(as_text=True))
    assert (data["todos"], data["api_keys"], data["connected_apps"]) == ([], [], [])


@pytest.mark.parametrize("password", ["", "wrong password"])
def test_delete_account_without_the_right_password_deletes_nothing(app, client, world, password):
    log_in(client)

    response = post_form(client, "/account/delete", {"password": password}, page="/account")

    assert response.status_code == 400
    with app.app_context():
        assert all(n >= 1 for n in _owned_rows(world["ids"]["ada"]).values())
    assert client.get("/account").status_code == 200
    assert client.get("/todos", headers=bearer(world["ada_key"])).status_code == 200


def test_the_privacy_policy_names_the_controls_the_account_page_has(app, client, world):
    log_in(client)
    account = client.get("/account").get_data(as_text=True)
    privacy = client.get("/privacy").get_data(as_text=True)

    for label in ("Export my data", "Delete my account", "Connected apps", "Disconnect", "Revoke"):
        assert label in account
        assert label in privacy
    assert 'href="/account"' in privacy
