"""Codes, access and refresh tokens, revocation, and what the API says about bad tokens."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from app.config import project
from app.credentials import demo_user
from app.extensions import db
from app.models import (
    AccessToken,
    AuthorizationCode,
    OAuthClient,
    RefreshToken,
    utcnow,
)
from app.oauth.grants import REFRESH_GRACE
from app.resources import all_scopes
from app.todos.models import Todo
from tests.browser import post_form
from tests.factories import GPT_ID, PASSWORD, make_client
from tests.oauth_helpers import (
    CALLBACK,
    OLD_CALLBACK,
    basic,
    bearer,
    exchange,
    get_code,
    refresh,
    revoke,
    sign_in,
    token_works,
)

VERIFIER = "a-public-client-verifier-of-enough-length-0123456789abcdef"


@pytest.fixture
def app_settings() -> dict:
    return {"ACTION_AUTH": "oauth"}


def _set(app, model, **values) -> None:
    """Set columns of every row of `model`: timestamps move instead of tests waiting."""
    with app.app_context():
        db.session.execute(sa.update(model).values(**values))
        db.session.commit()


# Codes


def test_a_code_works_once(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id)
    server = app.test_client()

    assert exchange(server, client_id, secret, code).status_code == 200
    replay = exchange(server, client_id, secret, code)

    assert replay.status_code == 400
    assert replay.json["error"] == "invalid_grant"


def test_replaying_a_code_ends_the_tokens_it_gave(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id)
    server = app.test_client()
    first = exchange(server, client_id, secret, code, method="basic").json
    assert token_works(app, first["access_token"])

    assert exchange(server, client_id, secret, code).json["error"] == "invalid_grant"

    assert not token_works(app, first["access_token"])
    dead = refresh(server, client_id, secret, first["refresh_token"])
    assert dead.status_code == 400
    assert dead.json["error"] == "invalid_grant"


def test_a_replay_leaves_other_sign_ins_alone(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    server = app.test_client()
    code = get_code(user_browser, client_id)
    replayed = exchange(server, client_id, secret, code).json
    other = exchange(server, client_id, secret, get_code(user_browser, client_id)).json

    exchange(server, client_id, secret, code)

    assert not token_works(app, replayed["access_token"])
    assert token_works(app, other["access_token"])


def test_an_expired_code_is_refused(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id)
    _set(app, AuthorizationCode, expires_at=utcnow() - timedelta(seconds=1))

    response = exchange(app.test_client(), client_id, secret, code)

    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_client(app, user_browser, chatgpt):
    client_id, _ = chatgpt
    with app.app_context():
        other_id, other_secret = make_client("Other GPT")
    code = get_code(user_browser, client_id)

    response = exchange(app.test_client(), other_id, other_secret, code)

    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_redirect_uri(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id, CALLBACK)

    response = exchange(app.test_client(), client_id, secret, code, redirect_uri=OLD_CALLBACK)

    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_a_code_needs_the_clients_secret(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id)
    server = app.test_client()

    wrong = exchange(server, client_id, secret + "x", code)
    assert wrong.status_code == 401
    assert wrong.json["error"] == "invalid_client"
    # A failed client authentication does not use the code up.
    assert exchange(server, client_id, secret, code).status_code == 200


def test_of_two_concurrent_exchanges_of_a_code_one_gets_tokens(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id)
    start = threading.Barrier(2)
    results: list = [None, None]

    def exchange_in_thread(index: int) -> None:
        server = app.test_client()
        start.wait()
        results[index] = exchange(server, client_id, secret, code)

    threads = [threading.Thread(target=exchange_in_thread, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.status_code for r in results) == [200, 400]


# Codes and tokens end with what they belong to


def _disconnect(app, user_browser, client_id: str) -> None:
    """The account page's Disconnect button for the app `client_id`."""
    with app.app_context():
        pk = db.session.scalar(sa.select(OAuthClient.id).where(OAuthClient.client_id == client_id))
    response = post_form(user_browser, f"/account/apps/{pk}/disconnect", page="/account")
    assert response.status_code == 302


def test_disconnecting_an_app_kills_its_codes_not_yet_redeemed(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    with app.app_context():
        other_id, other_secret = make_client("Other GPT")
    code = get_code(user_browser, client_id)
    other_code = get_code(user_browser, other_id)

    _disconnect(app, user_browser, client_id)

    response = exchange(app.test_client(), client_id, secret, code)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"
    # Only that app's: a code the user gave another app still works.
    assert exchange(app.test_client(), other_id, other_secret, other_code).status_code == 200


def test_a_callback_no_longer_allowed_gets_nothing_for_its_codes(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    code = get_code(user_browser, client_id)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["clients", "add-redirect", client_id, "https://gpt.example/cb"])
    other_code = get_code(user_browser, client_id, "https://gpt.example/cb")

    removed = runner.invoke(args=["clients", "remove-redirect", client_id, GPT_ID])
    assert removed.exit_code == 0, removed.output

    response = exchange(app.test_client(), client_id, secret, code)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"
    # A code sent to a callback still allowed works.
    allowed = exchange(
        app.test_client(), client_id, secret, other_code, redirect_uri="https://gpt.example/cb"
    )
    assert allowed.status_code == 200, allowed.json


def test_deleting_the_account_ends_its_codes_and_tokens(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    token = exchange(app.test_client(), client_id, secret, get_code(user_browser, client_id)).json
    code = get_code(user_browser, client_id)

    deleted = post_form(user_browser, "/account/delete", {"password": PASSWORD}, page="/account")
    assert deleted.status_code == 302

    assert exchange(app.test_client(), client_id, secret, code).json["error"] == "invalid_grant"
    assert not token_works(app, token["access_token"])
    dead = refresh(app.test_client(), client_id, secret, token["refresh_token"])
    assert dead.json["error"] == "invalid_grant"


def test_deleting_a_client_ends_its_codes_and_tokens(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    token = exchange(app.test_client(), client_id, secret, get_code(user_browser, client_id)).json
    code = get_code(user_browser, client_id)

    deleted = app.test_cli_runner().invoke(args=["clients", "delete", client_id, "--yes"])
    assert deleted.exit_code == 0, deleted.output

    assert exchange(app.test_client(), client_id, secret, code).json["error"] == "invalid_client"
    assert not token_works(app, token["access_token"])
    dead = refresh(app.test_client(), client_id, secret, token["refresh_token"])
    assert dead.json["error"] == "invalid_client"


# Stored as digests


def _every_stored_value(app) -> str:
    with app.app_context():
        rows = []
        for table in db.metadata.sorted_tables:
            rows.extend(repr(tuple(row)) for row in db.session.execute(sa.select(table)))
        return "\n".join(rows)


def test_codes_tokens_and_secrets_are_stored_only_as_digests(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    with app.app_context():
        public_id, _ = make_client("Desktop app", public=True)
    code = get_code(user_browser, client_id)
    token = exchange(app.test_client(), client_id, secret, code).json
    refreshed = refresh(app.test_client(), client_id, secret, token["refresh_token"]).json
    public_code = get_code(
        user_browser,
        public_id,
        code_challenge=create_s256_code_challenge(VERIFIER),
        code_challenge_method="S256",
    )
    public = exchange(app.test_client(), public_id, None, public_code, code_verifier=VERIFIER)
    rotated = refresh(app.test_client(), public_id, None, public.json["refresh_token"]).json

    stored = _every_stored_value(app)

    assert client_id in stored  # the search does see what is stored in the clear
    raw_values = {
        "client secret": secret,
        "code": code,
        "public code": public_code,
        "access token": token["access_token"],
        "refresh token": token["refresh_token"],
        "refreshed access token": refreshed["access_token"],
        "public access token": public.json["access_token"],
        "public refresh token": public.json["refresh_token"],
        "rotated refresh token": rotated["refresh_token"],
    }
    for name, raw in raw_values.items():
        assert raw not in stored, f"the {name} is stored in the clear"


# Refresh


def test_refresh_can_narrow_but_not_widen_the_scope(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    one, another = list(all_scopes())[:2]
    server = app.test_client()
    token = exchange(server, client_id, secret, get_code(user_browser, client_id)).json

    narrower = server.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "scope": one,
        },
        headers=basic(client_id, secret),
    )
    assert narrower.status_code == 200, narrower.json
    assert narrower.json["scope"] == one

    read_only = exchange(server, client_id, secret, get_code(user_browser, client_id, scope=one))
    wider = server.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": read_only.json["refresh_token"],
            "scope": f"{one} {another}",
        },
        headers=basic(client_id, secret),
    )
    assert wider.status_code == 400
    assert wider.json["error"] == "invalid_scope"


def test_racing_refreshes_both_succeed(app, account, chatgpt):
    client_id, secret = chatgpt
    token = sign_in(app, client_id, secret)

    first = refresh(app.test_client(), client_id, secret, token["refresh_token"])
    second = refresh(app.test_client(), client_id, secret, token["refresh_token"], "basic")

    assert (first.status_code, second.status_code) == (200, 200)
    assert token_works(app, first.json["access_token"])
    assert token_works(app, second.json["access_token"])
    assert refresh(app.test_client(), client_id, secret, token["refresh_token"]).status_code == 200


def _refresh_together(app, client_id: str, secret: str | None, refresh_token: str) -> list:
    """Two refreshes with one refresh token, released at the same moment from two threads."""
    start = threading.Barrier(2)
    results: list = [None, None]

    def refresh_in_thread(index: int) -> None:
        server = app.test_client()
        start.wait()
        results[index] = refresh(server, client_id, secret, refresh_token)

    threads = [threading.Thread(target=refresh_in_thread, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_refreshes_both_succeed(app, account, chatgpt):
    client_id, secret = chatgpt
    token = sign_in(app, client_id, secret)

    results = _refresh_together(app, client_id, secret, token["refresh_token"])

    assert [r.status_code for r in results] == [200, 200], [r.json for r in results]
    assert all(token_works(app, r.json["access_token"]) for r in results)
    assert refresh(app.test_client(), client_id, secret, token["refresh_token"]).status_code == 200


def test_a_refresh_token_belongs_to_its_client(app, account, chatgpt):
    client_id, secret = chatgpt
    with app.app_context():
        other_id, other_secret = make_client("Other GPT")
    token = sign_in(app, client_id, secret)

    response = refresh(app.test_client(), other_id, other_secret, token["refresh_token"])

    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def _public_sign_in(app, user_browser) -> tuple[str, dict]:
    with app.app_context():
        client_id, _ = make_client("Desktop app", public=True)
    code = get_code(
        user_browser,
        client_id,
        code_challenge=create_s256_code_challenge(VERIFIER),
        code_challenge_method="S256",
    )
    response = exchange(app.test_client(), client_id, None, code, code_verifier=VERIFIER)
    assert response.status_code == 200, response.json
    return client_id, response.json


def _after_the_grace_window(app) -> None:
    """Move every rotation back past the grace window: the next use comes much later."""
    with app.app_context():
        db.session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.rotated_at.is_not(None))
            .values(rotated_at=utcnow() - REFRESH_GRACE - timedelta(seconds=1))
        )
        db.session.commit()


def test_a_public_clients_refresh_token_rotates_with_a_grace_window(app, user_browser):
    client_id, token = _public_sign_in(app, user_browser)
    server = app.test_client()

    rotated = refresh(server, client_id, None, token["refresh_token"])
    assert rotated.status_code == 200, rotated.json
    assert rotated.json["refresh_token"] != token["refresh_token"]

    # A retry with the previous token (a lost response) still works, briefly.
    retry = refresh(server, client_id, None, token["refresh_token"])
    assert retry.status_code == 200, retry.json
    assert token_works(app, retry.json["access_token"])

    newer = refresh(server, client_id, None, rotated.json["refresh_token"])
    assert newer.status_code == 200, newer.json
    assert token_works(app, newer.json["access_token"])


def test_reusing_a_rotated_refresh_token_after_the_grace_window_ends_the_grant(app, user_browser):
    client_id, token = _public_sign_in(app, user_browser)
    server = app.test_client()
    rotated = refresh(server, client_id, None, token["refresh_token"]).json
    _after_the_grace_window(app)

    reuse = refresh(server, client_id, None, token["refresh_token"])

    assert reuse.status_code == 400
    assert reuse.json["error"] == "invalid_grant"
    # Someone else holds a copy: everything of this sign-in stops.
    assert not token_works(app, rotated["access_token"])
    assert not token_works(app, token["access_token"])
    assert refresh(server, client_id, None, rotated["refresh_token"]).status_code == 400


def test_a_retry_in_the_grace_window_gets_a_refresh_token_that_keeps_working(app, user_browser):
    client_id, token = _public_sign_in(app, user_browser)
    server = app.test_client()
    assert refresh(server, client_id, None, token["refresh_token"]).status_code == 200
    # That response was lost; the client tries again with the token it has.

    retry = refresh(server, client_id, None, token["refresh_token"])

    assert retry.status_code == 200, retry.json
    kept = retry.json.get("refresh_token", token["refresh_token"])
    _after_the_grace_window(app)
    later = refresh(server, client_id, None, kept)
    assert later.status_code == 200, later.json
    assert token_works(app, later.json["access_token"])


def test_concurrent_refreshes_of_a_public_client_each_get_a_working_refresh_token(
    app, user_browser
):
    client_id, token = _public_sign_in(app, user_browser)

    results = _refresh_together(app, client_id, None, token["refresh_token"])

    assert [r.status_code for r in results] == [200, 200], [r.json for r in results]
    _after_the_grace_window(app)
    for result in results:
        assert token_works(app, result.json["access_token"])
        kept = result.json.get("refresh_token", token["refresh_token"])
        later = refresh(app.test_client(), client_id, None, kept)
        assert later.status_code == 200, later.json


def test_reusing_a_refresh_token_rotated_out_twice_ends_the_grant(app, user_browser):
    client_id, token = _public_sign_in(app, user_browser)
    server = app.test_client()
    second = refresh(server, client_id, None, token["refresh_token"]).json
    third = refresh(server, client_id, None, second["refresh_token"]).json
    _after_the_grace_window(app)

    reuse = refresh(server, client_id, None, token["refresh_token"])

    assert reuse.status_code == 400
    assert reuse.json["error"] == "invalid_grant"
    assert not token_works(app, third["access_token"])
    assert refresh(server, client_id, None, third["refresh_token"]).status_code == 400


# Revocation (RFC 7009)


@pytest.mark.parametrize("method", ["post", "basic"])
def test_revoking_an_access_token_ends_only_it(app, user_browser, chatgpt, method):
    client_id, secret = chatgpt
    token = exchange(app.test_client(), client_id, secret, get_code(user_browser, client_id)).json
    other = refresh(app.test_client(), client_id, secret, token["refresh_token"]).json

    response = revoke(app.test_client(), client_id, secret, token["access_token"], method)

    assert response.status_code == 200
    assert not token_works(app, token["access_token"])
    assert token_works(app, other["access_token"])
    assert refresh(app.test_client(), client_id, secret, token["refresh_token"]).status_code == 200


def test_a_public_client_revokes_with_its_client_id_alone(app, user_browser):
    client_id, token = _public_sign_in(app, user_browser)

    response = app.test_client().post(
        "/oauth/revoke", data={"token": token["refresh_token"], "client_id": client_id}
    )

    assert response.status_code == 200
    assert not token_works(app, token["access_token"])


@pytest.mark.parametrize("rotations", [1, 2])
def test_revoking_a_rotated_out_refresh_token_ends_the_sign_in(app, user_browser, rotations):
    client_id, token = _public_sign_in(app, user_browser)
    server = app.test_client()
    issued = [token]
    for _ in range(rotations):
        issued.append(refresh(server, client_id, None, issued[-1]["refresh_token"]).json)

    response = app.test_client().post(
        "/oauth/revoke", data={"token": token["refresh_token"], "client_id": client_id}
    )

    assert response.status_code == 200
    for each in issued:
        assert not token_works(app, each["access_token"])
    latest = refresh(server, client_id, None, issued[-1]["refresh_token"])
    assert latest.status_code == 400
    assert latest.json["error"] == "invalid_grant"


def test_an_unsupported_token_type_hint_is_a_400_and_revokes_nothing(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    token = exchange(app.test_client(), client_id, secret, get_code(user_browser, client_id)).json

    response = revoke(
        app.test_client(), client_id, secret, token["access_token"], token_type_hint="id_token"
    )

    assert response.status_code == 400
    assert response.json["error"] == "unsupported_token_type"
    assert set(response.json) <= {"error", "error_description"}
    assert token_works(app, token["access_token"])


def test_a_wrong_but_known_hint_still_revokes(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    token = exchange(app.test_client(), client_id, secret, get_code(user_browser, client_id)).json

    response = revoke(
        app.test_client(), client_id, secret, token["refresh_token"], token_type_hint="access_token"
    )

    assert response.status_code == 200
    assert not token_works(app, token["access_token"])


def test_revoking_an_unknown_token_answers_200(app, chatgpt):
    client_id, secret = chatgpt
    assert revoke(app.test_client(), client_id, secret, "tda_not-a-token").status_code == 200
    assert (
        revoke(app.test_client(), client_id, secret, "tdr_not-a-token", "basic").status_code == 200
    )


def test_a_client_cannot_revoke_another_clients_token(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    with app.app_context():
        other_id, other_secret = make_client("Other GPT")
    token = exchange(app.test_client(), client_id, secret, get_code(user_browser, client_id)).json

    for raw in (token["access_token"], token["refresh_token"]):
        response = revoke(app.test_client(), other_id, other_secret, raw)
        assert response.status_code == 400
        assert response.json["error"] == "invalid_grant"

    assert token_works(app, token["access_token"])
    assert refresh(app.test_client(), client_id, secret, token["refresh_token"]).status_code == 200


def test_revocation_needs_client_authentication(app, user_browser, chatgpt):
    client_id, secret = chatgpt
    token = exchange(app.test_client(), client_id, secret, get_code(user_browser, client_id)).json

    wrong = revoke(app.test_client(), client_id, "tds_wrong", token["access_token"], "basic")
    anonymous = app.test_client().post("/oauth/revoke", data={"token": token["access_token"]})

    assert wrong.status_code == 401
    assert wrong.json["error"] == "invalid_client"
    assert anonymous.status_code in (400, 401)
    assert anonymous.json["error"] == "invalid_client"
    assert token_works(app, token["access_token"])


# What the API answers


def _assert_invalid_token(response) -> None:
    assert response.status_code == 401
    assert set(response.json) >= {"code", "status", "message"}
    assert response.json["code"] == 401
    assert response.json["status"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"].startswith(
        f'Bearer realm="{project().name}", error="invalid_token"'
    )


def test_missing_credentials_are_401_with_a_bearer_challenge(app):
    response = app.test_client().get("/todos")
    assert response.status_code == 401
    assert response.json["code"] == 401
    assert response.headers["WWW-Authenticate"].startswith(f'Bearer realm="{project().name}"')


@pytest.mark.parametrize("raw", ["tda_unknown", "nonsense", "x" * 5000, "tda_ä€"])
def test_unknown_tokens_are_401(app, raw):
    _assert_invalid_token(app.test_client().get("/todos", headers=bearer(raw)))


def test_expired_and_revoked_tokens_are_401(app, account, chatgpt):
    client_id, secret = chatgpt
    expired = sign_in(app, client_id, secret)["access_token"]
    _set(app, AccessToken, expires_at=utcnow() - timedelta(seconds=1))
    _assert_invalid_token(app.test_client().get("/todos", headers=bearer(expired)))

    revoked = sign_in(app, client_id, secret)["access_token"]
    revoke(app.test_client(), client_id, secret, revoked)
    _assert_invalid_token(app.test_client().post("/todos", json={}, headers=bearer(revoked)))


def test_a_refresh_token_is_not_an_access_token(app, account, chatgpt):
    client_id, secret = chatgpt
    token = sign_in(app, client_id, secret)
    _assert_invalid_token(app.test_client().get("/todos", headers=bearer(token["refresh_token"])))


class TestNoneMode:
    @pytest.fixture
    def app_settings(self) -> dict:
        return {"ACTION_AUTH": "none"}

    def test_no_credentials_is_the_shared_demo_user(self, app):
        anonymous = app.test_client()
        added = anonymous.post("/todos", json={"title": "Shared"})
        assert added.status_code == 201
        assert [t["title"] for t in anonymous.get("/todos").json["todos"]] == ["Shared"]
        with app.app_context():
            stored = db.session.get(Todo, added.json["id"])
            assert stored.owner_id == demo_user().id
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Todo)) == 1

    def test_a_bad_token_is_still_401(self, app):
        _assert_invalid_token(app.test_client().get("/todos", headers=bearer("tda_unknown")))

    def test_a_valid_token_acts_as_its_owner(self, app, account, chatgpt):
        client_id, secret = chatgpt
        token = sign_in(app, client_id, secret)["access_token"]
        app.test_client().post("/todos", json={"title": "Shared"})

        mine = app.test_client().post("/todos", json={"title": "Mine"}, headers=bearer(token))

        assert mine.status_code == 201
        listed = app.test_client().get("/todos", headers=bearer(token)).json["todos"]
        assert [t["title"] for t in listed] == ["Mine"]
        shared = app.test_client().get("/todos").json["todos"]
        assert [t["title"] for t in shared] == ["Shared"]
