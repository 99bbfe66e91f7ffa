"""`flask users ...` and `flask keys ...` as an operator or a script runs them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import ApiKey, User, utcnow
from app.resources import all_scopes
from tests.browser import log_in
from tests.factories import PASSWORD, make_key, make_user

EXPECTED_JSON_KEYS = ["id", "key", "prefix", "name", "scopes", "expires_at"]


@pytest.fixture
def app_settings() -> dict:
    return {"ACTION_AUTH": "apikey"}


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(args=list(args), input=input)

    return run


def _users(app) -> list[tuple[str, bool]]:
    with app.app_context():
        return [
            tuple(r)
            for r in db.session.execute(
                sa.select(User.email, User.is_admin).where(User.is_demo.is_(False))
            )
        ]


def _keys(app) -> list[ApiKey]:
    with app.app_context():
        keys = list(db.session.scalars(sa.select(ApiKey).order_by(ApiKey.id)))
        db.session.expunge_all()
        return keys


def _one_line_error(result, text: str) -> None:
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ")
    assert text in lines[-1], result.output


def test_users_create_asks_for_the_password_twice_and_the_account_can_log_in(app, cli, client):
    result = cli("users", "create", "Ada@Example.com", input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert "Created account ada@example.com" in result.output
    assert PASSWORD not in result.output
    assert _users(app) == [("ada@example.com", False)]
    log_in(client)


def test_users_create_asks_again_when_the_two_passwords_differ(app, cli):
    result = cli(
        "users",
        "create",
        "ada@example.com",
        input=f"{PASSWORD}\ntypo {PASSWORD}\n{PASSWORD}\n{PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert _users(app) == [("ada@example.com", False)]


def test_users_create_reads_the_password_from_stdin(app, cli, client):
    result = cli(
        "users", "create", "ada@example.com", "--password-stdin", "--admin", input=f"{PASSWORD}\n"
    )

    assert result.exit_code == 0, result.output
    assert _users(app) == [("ada@example.com", True)]
    log_in(client)


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", PASSWORD, "valid email address"),
        ("ada@example.com", "short", "10 to 256 characters"),
        ("ada@example.com", "x" * 257, "10 to 256 characters"),
        ("ada@example.com", "", "10 to 256 characters"),
        ("ada@example.com", "Password123", "list of common passwords"),
        ("ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM", "your email address"),
    ],
)
def test_users_create_refuses_bad_input_in_one_line(app, cli, email, password, message):
    result = cli("users", "create", email, "--password-stdin", input=f"{password}\n")

    _one_line_error(result, message)
    assert _users(app) == []


def test_users_create_refuses_a_taken_email(app, cli):
    with app.app_context():
        make_user("ada@example.com")

    result = cli("users", "create", "ADA@example.com", "--password-stdin", input=f"{PASSWORD}\n")

    _one_line_error(result, "already exists")
    assert _users(app) == [("ada@example.com", False)]


def test_users_list_shows_accounts_and_who_is_admin(app, cli):
    assert cli("users", "list").output.strip() == "No accounts."
    with app.app_context():
        make_user("ada@example.com", is_admin=True)
        make_user("bob@example.com")
        # The demo user, made by the migrations, is no account anyone uses.
        assert db.session.scalar(sa.select(User).where(User.is_demo))

    lines = cli("users", "list").output.strip().splitlines()

    assert [line.split("\t")[1:3] for line in lines] == [
        ["ada@example.com", "admin"],
        ["bob@example.com", "user"],
    ]


def test_users_set_admin_grants_and_revokes(app, cli):
    with app.app_context():
        make_user("ada@example.com")

    granted = cli("users", "set-admin", "Ada@example.com")
    assert granted.exit_code == 0, granted.output
    assert _users(app) == [("ada@example.com", True)]

    revoked = cli("users", "set-admin", "ada@example.com", "--revoke")
    assert revoked.exit_code == 0, revoked.output
    assert _users(app) == [("ada@example.com", False)]


def test_users_set_admin_of_an_unknown_email_fails(app, cli):
    _one_line_error(cli("users", "set-admin", "nobody@example.com"), "No account")


NEW_PASSWORD = "a quite different passphrase"


def _still_logged_in(browser) -> bool:
    return browser.get("/account").status_code == 200


def test_users_set_password_changes_it_and_ends_every_log_in(app, cli, client, user_browser):
    other = app.test_client()
    log_in(other)

    result = cli("users", "set-password", "ADA@example.com", input=f"{NEW_PASSWORD}\n" * 2)

    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == (
        "Changed the password of ada@example.com; ended 2 log-in(s) to its pages"
    )
    assert NEW_PASSWORD not in result.output
    assert not _still_logged_in(user_browser)
    assert not _still_logged_in(other)
    log_in(client, password=NEW_PASSWORD)


def test_users_set_password_reads_the_password_from_stdin(app, cli, client, account):
    result = cli(
        "users", "set-password", "ada@example.com", "--password-stdin", input=f"{NEW_PASSWORD}\n"
    )

    assert result.exit_code == 0, result.output
    log_in(client, password=NEW_PASSWORD)


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("nobody@example.com", NEW_PASSWORD, "No account with email nobody@example.com"),
        ("ada@example.com", "short", "10 to 256 characters"),
        ("ada@example.com", "", "10 to 256 characters"),
    ],
)
def test_users_set_password_refuses_bad_input_in_one_line_and_changes_nothing(
    app, cli, client, user_browser, email, password, message
):
    result = cli("users", "set-password", email, "--password-stdin", input=f"{password}\n")

    _one_line_error(result, message)
    assert _still_logged_in(user_browser)
    log_in(client)


def test_users_set_password_asks_nothing_for_an_unknown_email(app, cli):
    result = cli("users", "set-password", "nobody@example.com", input="")

    _one_line_error(result, "No account")
    assert "Password" not in result.output


def test_keys_create_json_prints_exactly_one_object_with_a_working_key(app, cli, client, account):
    result = cli(
        "keys",
        "create",
        "ada@example.com",
        "--name",
        "My GPT",
        "--scope",
        "todos:read",
        "--expires-in",
        "30",
        "--json",
    )

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == EXPECTED_JSON_KEYS
    assert data["key"].startswith(data["prefix"]) and data["prefix"].startswith("tdk_")
    assert (data["name"], data["scopes"]) == ("My GPT", ["todos:read"])
    expires = utcnow() + timedelta(days=30)
    assert abs(datetime.fromisoformat(data["expires_at"]) - expires) < timedelta(minutes=5)
    [key] = _keys(app)
    assert key.id == data["id"]
    assert abs(key.expires_at - expires) < timedelta(minutes=5)
    headers = {"Authorization": f"Bearer {data['key']}"}
    assert client.get("/todos", headers=headers).status_code == 200
    assert client.post("/todos", json={"title": "x"}, headers=headers).status_code == 403


def test_keys_create_defaults_to_every_scope_and_no_expiry(app, cli, client, account):
    result = cli("keys", "create", "ada@example.com", "--name", "GPT", "--json")

    data = json.loads(result.stdout)
    assert data["scopes"] == list(all_scopes())
    assert data["expires_at"] is None
    headers = {"X-API-Key": data["key"]}
    assert client.post("/todos", json={"title": "x"}, headers=headers).status_code == 201


def test_keys_create_without_json_shows_the_key_once_for_a_person(app, cli, account):
    result = cli("keys", "create", "ada@example.com", "--name", "GPT")

    assert result.exit_code == 0, result.output
    [key] = _keys(app)
    assert "shown only this once" in result.output
    assert result.output.strip().splitlines()[-1].startswith(key.prefix)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@example.com", "--name", "x"], "No account with email nobody@example.com"),
        (["ada@example.com", "--name", "x", "--scope", "todos:admin"], "Unknown scope"),
        (["ada@example.com", "--name", "x", "--expires-in", "0"], "1 to 3650 days"),
        (["ada@example.com", "--name", "x", "--expires-in", "-3"], "1 to 3650 days"),
        (["ada@example.com", "--name", "x", "--expires-in", "99999"], "1 to 3650 days"),
        (["ada@example.com", "--name", "x", "--expires-in", "soon"], "not a valid integer"),
        (["ada@example.com", "--name", "  "], "name of 1 to 100 characters"),
        (["ada@example.com"], "Missing option '--name'"),
    ],
)
def test_keys_create_refuses_bad_input_in_one_line(app, cli, account, args, message):
    result = cli("keys", "create", *args, "--json")

    _one_line_error(result, message)
    assert result.stdout == "" or not result.stdout.startswith("{")
    assert _keys(app) == []


def test_keys_list_shows_prefixes_never_keys_and_filters_by_email(app, cli, account):
    with app.app_context():
        _, ada_key = make_key(db.session.get(User, account), name="Ada's GPT")
        _, bob_key = make_key(make_user("bob@example.com"), name="Bob's GPT")

    everyone = cli("keys", "list").output
    only_ada = cli("keys", "list", "ada@example.com").output

    assert ada_key[:12] in everyone and bob_key[:12] in everyone
    assert ada_key not in everyone and bob_key not in everyone
    assert "Ada's GPT" in only_ada and "Bob's GPT" not in only_ada
    assert "active" in only_ada
    _one_line_error(cli("keys", "list", "nobody@example.com"), "No account")


@pytest.mark.parametrize("how", ["id", "prefix", "short-prefix", "whole-key"])
def test_keys_revoke_by_id_prefix_or_key_stops_the_key(app, cli, client, account, how):
    with app.app_context():
        key_id, raw = make_key(db.session.get(User, account))
    name = {"id": str(key_id), "prefix": raw[:12], "short-prefix": raw[:7], "whole-key": raw}[how]

    result = cli("keys", "revoke", name)

    assert result.exit_code == 0, result.output
    assert "is revoked" in result.output
    assert raw not in result.output
    assert client.get("/todos", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert "revoked" in cli("keys", "list").output


def test_keys_revoke_refuses_an_ambiguous_prefix(app, cli, client, account):
    with app.app_context():
        user = db.session.get(User, account)
        first_id, first = make_key(user)
        second_id, second = make_key(user)
        # Two keys whose visible prefixes agree, as random ones eventually will.
        db.session.get(ApiKey, second_id).prefix = first[:12]
        db.session.commit()

    result = cli("keys", "revoke", first[:12])

    _one_line_error(result, f"ids {first_id}, {second_id}")
    assert [k.revoked_at for k in _keys(app)] == [None, None]
    for raw in (first, second):
        assert client.get("/todos", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert cli("keys", "revoke", str(second_id)).exit_code == 0
    assert [k.revoked_at is None for k in _keys(app)] == [True, False]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("999", "No API key with id 999"),
        ("tdk_%", "No API key with prefix"),
        ("tdk_", "Give a key id"),
        ("hello", "Give a key id"),
        ("tdk_" + "x" * 43, "No API key matches"),
    ],
)
def test_keys_revoke_of_an_unknown_key_fails_and_revokes_nothing(app, cli, account, name, message):
    with app.app_context():
        make_key(db.session.get(User, account))

    _one_line_error(cli("keys", "revoke", name), message)
    assert [k.revoked_at for k in _keys(app)] == [None]


def test_revoking_twice_says_so(app, cli, account):
    with app.app_context():
        key_id, _ = make_key(db.session.get(User, account))

    cli("keys", "revoke", str(key_id))
    again = cli("keys", "revoke", str(key_id))

    assert again.exit_code == 0
    assert "already revoked" in again.output


@pytest.mark.parametrize("given", ["2147483648", "9" * 30, "²"])
def test_keys_revoke_of_an_id_no_key_can_have_says_so(app, cli, account, given):
    result = cli("keys", "revoke", given)

    _one_line_error(result, "No API key" if given.isascii() else "Give a key id")
