"""Per-user API keys: made on the account page, then used by a GPT in each form it sends them."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import ApiKey, User, utcnow
from app.resources import all_scopes
from app.todos.models import Todo
from tests.browser import log_in, post_form
from tests.factories import make_key, make_todo, make_user
from tests.oauth_helpers import bearer

HEADER = "X-Todo-Key"
_NEW_KEY_RE = re.compile(r'id="new-key">\s*([^<\s]+)\s*<')


@pytest.fixture
def app_settings() -> dict:
    # No demo fallback: a request without a valid key is refused.
    return {"ACTION_AUTH": "apikey", "API_KEY_HEADER": HEADER, "API_KEY_AUTH_TYPE": "custom"}


def _key_for(app, user_id: int, **kwargs) -> tuple[int, str]:
    with app.app_context():
        return make_key(db.session.get(User, user_id), **kwargs)


def _key_row(app, key_id: int) -> ApiKey:
    with app.app_context():
        key = db.session.get(ApiKey, key_id)
        db.session.expunge(key)
        return key


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _create_on_page(client, **fields):
    data = {"name": "My GPT", "scopes": list(all_scopes()), **fields}
    return post_form(client, "/account/keys", data, page="/account")


def test_a_key_made_on_the_account_page_is_shown_once_then_only_its_prefix(app, client, account):
    log_in(client)

    created = _create_on_page(client)

    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    html = created.get_data(as_text=True)
    key = _NEW_KEY_RE.search(html).group(1)
    assert key.startswith("tdk_") and len(key) > 40
    assert "shown only this once" in html
    later = client.get("/account").get_data(as_text=True)
    assert key not in later
    assert f"{key[:12]}…" in later
    assert "My GPT" in later
    assert client.get("/todos", headers=bearer(key)).status_code == 200


def test_the_new_key_comes_with_instructions_for_each_editor_auth_type(app, client, account):
    log_in(client)

    html = _create_on_page(client).get_data(as_text=True)

    for auth_type in ("Bearer", "Custom", "Basic"):
        assert f"<dt>{auth_type}</dt>" in html
    assert f"<code>{HEADER}</code>" in html
    assert "this service\n  expects <strong>Custom</strong>" in html


def test_a_key_gets_only_the_scopes_ticked_and_the_expiry_asked_for(app, client, account):
    log_in(client)

    _create_on_page(client, scopes=["todos:read"], expires_in_days="30")

    with app.app_context():
        key = db.session.scalar(sa.select(ApiKey))
        assert key.scopes == ["todos:read"]
        assert abs(key.expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=5)
    assert "todos:read" in client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scopes": []}, "Choose at least one scope."),
        ({"scopes": ["todos:admin"]}, "Unknown scope"),
        ({"name": "  "}, "Give the key a name."),
        ({"name": "x" * 101}, "Field cannot be longer than 100 characters."),
        ({"expires_in_days": "0"}, "Number must be between 1 and 3650."),
        ({"expires_in_days": "soon"}, "Not a valid integer value."),
    ],
)
def test_a_bad_key_request_is_refused_and_says_why(app, client, account, fields, message):
    log_in(client)

    response = _create_on_page(client, **fields)

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 0


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda k: {"Authorization": f"Bearer {k}"}, id="bearer"),
        pytest.param(lambda k: {HEADER: k}, id="custom-header"),
        pytest.param(lambda k: {"Authorization": f"Basic {k}"}, id="basic-raw"),
        pytest.param(lambda k: {"Authorization": f"Basic {_b64(k)}"}, id="basic-b64-key"),
        pytest.param(lambda k: {"Authorization": f"Basic {_b64(k + ':')}"}, id="basic-b64-key:"),
        pytest.param(
            lambda k: {"Authorization": f"Basic {_b64('anything:' + k)}"}, id="basic-b64-user:key"
        ),
    ],
)
def test_the_api_accepts_a_key_in_every_form_the_gpt_editor_sends(app, client, account, headers):
    _, key = _key_for(app, account)

    added = client.post("/todos", json={"title": "Buy milk"}, headers=headers(key))
    listed = client.get("/todos", headers=headers(key))

    assert added.status_code == 201, added.json
    assert [t["title"] for t in listed.json["todos"]] == ["Buy milk"]
    with app.app_context():
        assert db.session.scalar(sa.select(Todo.owner_id)) == account


def _assert_refused(response):
    assert response.status_code == 401, response.json
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert response.json["code"] == 401


def test_no_key_or_a_wrong_key_gets_401_with_a_challenge(app, client, account):
    _, key = _key_for(app, account)
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")

    _assert_refused(client.get("/todos"))
    _assert_refused(client.get("/todos", headers=bearer(wrong)))
    _assert_refused(client.get("/todos", headers={HEADER: wrong}))
    _assert_refused(client.get("/todos", headers={"Authorization": f"Basic {_b64(wrong)}"}))
    _assert_refused(client.get("/todos", headers=bearer(key[:12])))


def test_a_key_revoked_on_the_account_page_stops_working_at_once(app, client, account):
    key_id, key = _key_for(app, account)
    assert client.get("/todos", headers=bearer(key)).status_code == 200
    log_in(client)

    response = post_form(client, f"/account/keys/{key_id}/revoke", page="/account")

    assert response.status_code == 302
    _assert_refused(client.get("/todos", headers=bearer(key)))
    _assert_refused(client.get("/todos", headers={HEADER: key}))
    page = client.get("/account").get_data(as_text=True)
    assert "is revoked" in page
    assert '<span class="status revoked">revoked</span>' in page


def test_nobody_can_revoke_another_users_key(app, client, account):
    key_id, key = _key_for(app, account)
    with app.app_context():
        make_user("eve@example.com")
    log_in(client, "eve@example.com")

    response = post_form(client, f"/account/keys/{key_id}/revoke", page="/account")

    assert response.status_code == 404
    assert _key_row(app, key_id).revoked_at is None
    assert client.get("/todos", headers=bearer(key)).status_code == 200


def test_an_expired_key_gets_401(app, client, account):
    key_id, key = _key_for(app, account, days=1)
    assert client.get("/todos", headers=bearer(key)).status_code == 200
    with app.app_context():
        db.session.get(ApiKey, key_id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()

    _assert_refused(client.get("/todos", headers=bearer(key)))
    log_in(client)
    assert '<span class="status expired">expired</span>' in client.get("/account").get_data(
        as_text=True
    )


def test_a_read_only_key_reads_but_gets_403_insufficient_scope_on_add_todo(app, client, account):
    _, key = _key_for(app, account, scopes=["todos:read"])

    assert client.get("/todos", headers=bearer(key)).status_code == 200
    response = client.post("/todos", json={"title": "Nope"}, headers=bearer(key))

    assert response.status_code == 403
    assert "insufficient_scope" in response.headers.get("WWW-Authenticate", "")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Todo)) == 0


def test_using_a_key_records_when_it_was_last_used(app, client, account):
    key_id, key = _key_for(app, account)
    assert _key_row(app, key_id).last_used_at is None

    client.get("/todos", headers={HEADER: key})

    used = _key_row(app, key_id).last_used_at
    assert used is not None
    assert utcnow() - used < timedelta(minutes=5)
    log_in(client)
    assert f"{used:%Y-%m-%d %H:%M} UTC" in client.get("/account").get_data(as_text=True)


def test_the_key_itself_is_never_stored(app, client, account):
    log_in(client)
    key = _NEW_KEY_RE.search(_create_on_page(client).get_data(as_text=True)).group(1)
    client.get("/todos", headers=bearer(key))

    with app.app_context():
        dump = repr([db.session.execute(sa.select(t)).all() for t in db.metadata.sorted_tables])
        stored = db.session.scalar(sa.select(ApiKey))
    assert key not in dump
    assert key[12:] not in dump
    assert key[12:32] not in dump
    assert stored.prefix == key[:12]
    assert stored.digest in dump


@pytest.fixture
def two_users(app):
    """Ada and Eve, each with a key and one todo; Eve's todo is the one Ada must not reach."""
    with app.app_context():
        ada = make_user("ada@example.com")
        eve = make_user("eve@example.com")
        _, ada_key = make_key(ada)
        _, eve_key = make_key(eve)
        make_todo(ada, "Ada's todo")
        eve_todo = make_todo(eve, "Eve's secret", notes="private").id
    return ada_key, eve_key, eve_todo


def test_another_users_todo_is_404_to_get_update_and_delete(app, client, two_users):
    ada_key, eve_key, eve_todo = two_users
    as_ada = bearer(ada_key)

    got = client.get(f"/todos/{eve_todo}", headers=as_ada)
    updated = client.patch(f"/todos/{eve_todo}", json={"done": True}, headers=as_ada)
    deleted = client.delete(f"/todos/{eve_todo}", headers=as_ada)

    assert [got.status_code, updated.status_code, deleted.status_code] == [404, 404, 404]
    assert "Eve's secret" not in got.get_data(as_text=True)
    still = client.get(f"/todos/{eve_todo}", headers=bearer(eve_key)).json
    assert (still["title"], still["done"], still["notes"]) == ("Eve's secret", False, "private")


def test_get_todos_lists_only_the_callers_own(app, client, two_users):
    ada_key, eve_key, _ = two_users

    for status in ("open", "all"):
        ada_sees = client.get("/todos", query_string={"status": status}, headers=bearer(ada_key))
        eve_sees = client.get("/todos", query_string={"status": status}, headers=bearer(eve_key))
        assert [t["title"] for t in ada_sees.json["todos"]] == ["Ada's todo"]
        assert [t["title"] for t in eve_sees.json["todos"]] == ["Eve's secret"]
    search = client.get("/todos", query_string={"q": "secret"}, headers=bearer(ada_key))
    assert search.json["todos"] == []


def test_a_todo_added_with_one_users_key_belongs_to_that_user_only(app, client, two_users):
    ada_key, eve_key, _ = two_users

    added = client.post("/todos", json={"title": "Ada's new"}, headers={HEADER: ada_key}).json

    assert client.get(f"/todos/{added['id']}", headers=bearer(eve_key)).status_code == 404
    assert client.get(f"/todos/{added['id']}", headers=bearer(ada_key)).status_code == 200
