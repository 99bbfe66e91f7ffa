"""Sign-up, log-in and log-out as a person does them in a browser."""

from __future__ import annotations

import re
import secrets
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from app.accounts.passwords import needs_rehash
from app.config import slug
from app.extensions import db
from app.models import ApiKey, AuthAttempt, User, utcnow
from tests.browser import browser, csrf_token, log_in, post_form
from tests.conftest import build_app
from tests.factories import PASSWORD, make_user


def _users(app) -> list[str]:
    with app.app_context():
        people = sa.select(User.email).where(User.is_demo.is_(False)).order_by(User.id)
        return list(db.session.scalars(people))


def _signup(client, email="ada@example.com", password=PASSWORD, confirm=None, query=""):
    browser(client)
    confirm = password if confirm is None else confirm
    data = {"email": email, "password": password, "confirm": confirm}
    return post_form(client, f"/signup{query}", data, page="/signup")


def test_sign_up_creates_the_account_and_sends_to_log_in(app, client):
    response = _signup(client, email="  Ada@Example.COM ")

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert _users(app) == ["ada@example.com"]
    page = client.get("/login").get_data(as_text=True)
    assert "Your account is ready: log in with your email address and password." in page
    assert client.get("/account").status_code == 302
    log_in(client)
    page = client.get("/account")
    assert page.status_code == 200
    assert "ada@example.com" in page.get_data(as_text=True)


def test_sign_up_keeps_where_the_person_was_going(app, client):
    target = "/oauth/authorize?client_id=tdc_x&response_type=code"

    login_page = _signup(client, query=f"?next={quote(target)}").headers["Location"]
    response = post_form(
        client, login_page, {"email": "ada@example.com", "password": PASSWORD}, page=login_page
    )

    assert response.headers["Location"] == target


def test_the_password_is_stored_only_as_an_argon2id_hash(app, client):
    _signup(client)

    with app.app_context():
        stored = db.session.scalar(sa.select(User.password_hash).where(User.is_demo.is_(False)))
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    ("email", "password", "confirm", "message"),
    [
        ("not-an-email", PASSWORD, None, "valid email address"),
        ("ada@localhost", PASSWORD, None, "valid email address"),
        ("a b@example.com", PASSWORD, None, "valid email address"),
        ("demo@demo.invalid", PASSWORD, None, "cannot be used"),
        ("ada@example.com", "x" * 9, None, "10 to 256 characters"),
        ("ada@example.com", "x" * 257, None, "10 to 256 characters"),
        ("ada@example.com", PASSWORD, PASSWORD + "!", "passwords differ"),
        # On the shipped list of common passwords, in any case.
        ("ada@example.com", "password123", None, "list of common passwords"),
        ("ada@example.com", "QwertyUIOP", None, "list of common passwords"),
        ("ada@example.com", "1234567890", None, "list of common passwords"),
        # Blank, repetitive or sequential characters (NIST SP 800-63B).
        ("ada@example.com", " " * 10, None, "blank characters"),
        ("ada@example.com", "\t" * 12, None, "blank characters"),
        ("ada@example.com", "z" * 12, None, "repeats or counts through"),
        ("ada@example.com", "1" * 13, None, "repeats or counts through"),
        ("ada@example.com", "abcdefghijkl", None, "repeats or counts through"),
        ("ada@example.com", "kjihgfedcba", None, "repeats or counts through"),
        ("ada@example.com", "xyzxyzxyzxyz", None, "repeats or counts through"),
        # The address itself, or the part before the @.
        ("ada.lovelace@example.com", "Ada.Lovelace@Example.com", None, "your email address"),
        ("adalovelace1815@example.com", "ADALOVELACE1815", None, "your email address"),
    ],
)
def test_sign_up_refuses_bad_input_and_says_why(app, client, email, password, confirm, message):
    response = _signup(client, email=email, password=password, confirm=confirm)

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _users(app) == []


@pytest.mark.parametrize(
    "password",
    [
        # No rules of composition: letters alone, spaces, any script, emoji.
        "plumjamtuesday",
        "lazy river otters",
        "пароль для ады",
        "🦆🦆🦆🦆🦆 quack quack",
    ],
)
def test_any_long_enough_uncommon_password_is_accepted(app, client, password):
    response = _signup(client, password=password)

    assert response.status_code == 302, response.text
    assert _users(app) == ["ada@example.com"]


def test_sign_up_says_what_a_password_needs_before_it_is_typed(app, client):
    page = client.get("/signup").get_data(as_text=True)

    assert "At least 10 characters" in page
    assert "common passwords and your email address are refused" in page
    assert 'minlength="10"' in page and 'maxlength="256"' in page


def test_passwords_of_10_and_256_characters_are_accepted(app, client):
    ten = "plum jam t"
    longest = ("plum jam tuesday " * 16)[:256]
    assert (len(ten), len(longest)) == (10, 256)
    assert _signup(client, email="a@example.com", password=ten).status_code == 302
    assert _signup(client, email="b@example.com", password=longest).status_code == 302

    assert _users(app) == ["a@example.com", "b@example.com"]


def _cookie_shape(response) -> list[str]:
    """Set-Cookie headers without their values, which are signed and so always differ."""
    return [re.sub(r"=[^;]*", "=…", c, count=1) for c in response.headers.getlist("Set-Cookie")]


def _without_csrf_token(html: str) -> str:
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", html)


def _sign_up_as_a_stranger(app, email: str, password: str):
    """A new browser signs up; the answer, and the log-in page it is sent to."""
    client = app.test_client()
    response = _signup(client, email=email, password=password)
    return response, client.get(response.headers.get("Location", "/login"))


def test_sign_up_does_not_tell_whether_an_address_has_an_account(app):
    with app.app_context():
        make_user("ada@example.com")

    taken, taken_next = _sign_up_as_a_stranger(app, "ADA@example.com", "eve's new password")
    new, new_next = _sign_up_as_a_stranger(app, "bob@example.com", "eve's new password")

    assert taken.status_code == new.status_code == 302
    assert taken.headers["Location"] == new.headers["Location"] == "/login"
    assert taken.get_data() == new.get_data()
    assert _cookie_shape(taken) == _cookie_shape(new)
    assert sorted(taken.headers.keys()) == sorted(new.headers.keys())
    assert taken_next.status_code == new_next.status_code == 200
    assert _without_csrf_token(taken_next.text) == _without_csrf_token(new_next.text)
    # Neither browser is logged in, and Ada's password is the one she chose.
    assert _users(app) == ["ada@example.com", "bob@example.com"]
    blocked = app.test_client()
    browser(blocked)
    refused = post_form(
        blocked, "/login", {"email": "ada@example.com", "password": "eve's new password"}
    )
    assert refused.status_code == 401
    assert log_in(app.test_client(), "ada@example.com", PASSWORD).status_code == 302


def test_sign_up_for_a_taken_address_takes_as_long_as_for_a_new_one(production_app):
    # Full-cost Argon2id: without a hash on the taken branch, it answers many times faster.
    with production_app.app_context():
        make_user("ada@example.com")
    client = production_app.test_client()

    def seconds(email: str) -> float:
        browser(client)
        form = {
            "csrf_token": csrf_token(client.get("/signup").text),
            "email": email,
            "password": "a long enough password",
            "confirm": "a long enough password",
        }
        started = time.perf_counter()
        assert client.post("/signup", data=form).status_code == 302
        return time.perf_counter() - started

    taken = min(seconds("ada@example.com") for _ in range(3))
    new = min(seconds(f"new{i}@example.com") for i in range(3))

    assert taken > new / 3, (taken, new)


def test_sign_up_when_closed_shows_a_clear_page_and_creates_nothing(database_url, app):
    closed = build_app(database_url, SIGNUP_OPEN="false")
    client = browser(closed.test_client())

    page = client.get("/signup")
    token = csrf_token(client.get("/login").text)
    response = client.post(
        "/signup",
        data={
            "csrf_token": token,
            "email": "ada@example.com",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )

    assert page.status_code == 403
    assert "Sign-up is closed" in page.get_data(as_text=True)
    assert response.status_code == 403
    assert _users(closed) == []
    assert "Sign up" not in client.get("/login").get_data(as_text=True)
    with closed.app_context():
        db.engine.dispose()


def test_log_in_goes_to_the_account_page(app, client):
    with app.app_context():
        make_user()

    response = log_in(client, email="ADA@example.com ")

    assert response.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200


def test_log_in_returns_to_the_page_that_asked_for_it(app, client):
    with app.app_context():
        make_user()
    browser(client)
    target = "/oauth/authorize?client_id=tdc_x&response_type=code"

    response = post_form(
        client,
        "/login",
        {"email": "ada@example.com", "password": PASSWORD},
        query_string={"next": target},
    )

    assert response.headers["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_log_in_never_redirects_off_site(app, client, target):
    with app.app_context():
        make_user()
    browser(client)

    response = post_form(
        client,
        "/login",
        {"email": "ada@example.com", "password": PASSWORD},
        query_string={"next": target},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/account"


def test_the_account_page_asks_for_log_in_and_comes_back(app, client):
    with app.app_context():
        make_user()

    first = client.get("/account")
    assert first.status_code == 302
    assert first.headers["Location"].startswith("/login?next=/account")

    browser(client)
    response = post_form(
        client, first.headers["Location"], {"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/account"


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)],
)
def test_a_failed_log_in_says_only_wrong_email_or_password(app, client, email, password):
    with app.app_context():
        make_user()
    browser(client)

    response = post_form(client, "/login", {"email": email, "password": password})

    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_the_demo_user_cannot_log_in(app, client):
    with app.app_context():
        # Made by the migrations, without a password.
        assert db.session.scalar(sa.select(User).where(User.is_demo)).password_hash is None
    browser(client)

    response = post_form(client, "/login", {"email": "demo@demo.invalid", "password": ""})

    assert response.status_code == 401


def test_log_in_upgrades_an_outdated_password_hash(app, client):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    with app.app_context():
        user = User(email="ada@example.com", password_hash=weak.hash(PASSWORD))
        db.session.add(user)
        db.session.commit()
        assert needs_rehash(user.password_hash)

    log_in(client)

    with app.app_context():
        stored = db.session.scalar(sa.select(User.password_hash).where(User.id == user.id))
        assert not needs_rehash(stored)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    assert log_in(client).status_code == 302


def test_log_out_is_post_only_and_ends_the_session(app, client):
    with app.app_context():
        make_user()
    log_in(client)

    assert client.get("/logout").status_code == 405
    assert client.get("/account").status_code == 200

    response = client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})

    assert response.status_code == 302
    assert client.get("/account").status_code == 302


def test_the_nav_shows_log_in_when_signed_out_and_account_when_signed_in(app, client):
    with app.app_context():
        make_user()

    signed_out = client.get("/").get_data(as_text=True)
    assert 'href="/login"' in signed_out and 'href="/signup"' in signed_out
    assert "Log out" not in signed_out

    log_in(client)
    signed_in = client.get("/").get_data(as_text=True)
    assert 'href="/account"' in signed_in
    assert 'action="/logout"' in signed_in and 'method="post"' in signed_in
    assert 'href="/login"' not in signed_in


def test_the_admin_link_shows_only_for_admins_and_only_if_there_is_an_admin_page(app, client):
    with app.app_context():
        make_user("ada@example.com")
        make_user("root@example.com", is_admin=True)
    has_admin_page = "admin.index" in app.view_functions

    log_in(client, "ada@example.com")
    assert ">Admin<" not in client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    log_in(client, "root@example.com")
    assert (">Admin<" in client.get("/").get_data(as_text=True)) is has_admin_page


def test_a_post_without_the_csrf_token_changes_nothing(app, client):
    with app.app_context():
        make_user()
    browser(client)

    refused_login = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    refused_signup = client.post(
        "/signup", data={"email": "eve@example.com", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert refused_login.status_code == 400
    assert refused_signup.status_code == 400
    assert client.get("/account").status_code == 302
    assert _users(app) == ["ada@example.com"]

    log_in(client)
    attempts = [
        client.post("/account/keys", data={"name": "k", "scopes": "todos:read"}),
        client.post("/account/delete", data={"password": PASSWORD}),
        client.post("/logout"),
        client.post("/account/delete", data={"password": PASSWORD, "csrf_token": "forged"}),
    ]
    assert [r.status_code for r in attempts] == [400] * 4
    assert "This form has expired" in attempts[0].get_data(as_text=True)
    assert _users(app) == ["ada@example.com"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 0
    assert client.get("/account").status_code == 200


def test_a_post_from_another_site_is_refused_even_with_a_token(app, client):
    with app.app_context():
        make_user()
    log_in(client)
    token = csrf_token(client.get("/account").text)
    client.environ_base["HTTP_REFERER"] = "https://evil.example/"

    response = client.post("/account/delete", data={"csrf_token": token, "password": PASSWORD})

    assert response.status_code == 400
    assert _users(app) == ["ada@example.com"]


def _session_cookie(response) -> str:
    cookies = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{slug()}_session=")
    ]
    assert cookies, response.headers
    return cookies[-1]


def test_the_session_cookie_is_httponly_and_samesite_lax(app, client):
    with app.app_context():
        make_user()

    cookie = _session_cookie(log_in(client))

    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.fixture
def production_app(database_url, app):
    # `app` is requested too, so the shared PostgreSQL database is emptied after the test.
    prod = build_app(
        database_url,
        APP_ENV="production",
        PUBLIC_URL="https://todo.example.com",
        SECRET_KEY=secrets.token_urlsafe(48),
    )
    yield prod
    with prod.app_context():
        db.session.remove()
        db.engine.dispose()


def test_in_production_the_session_cookie_is_also_secure(production_app):
    with production_app.app_context():
        make_user()
    client = production_app.test_client()

    cookie = _session_cookie(log_in(client))

    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert client.get("/account").status_code == 200


def test_repeated_failed_log_ins_to_one_account_get_429_with_retry_after(app, client):
    with app.app_context():
        make_user()
    browser(client)
    token = csrf_token(client.get("/login").text)

    statuses = []
    for _ in range(11):
        response = client.post(
            "/login", data={"csrf_token": token, "email": "ada@example.com", "password": "nope"}
        )
        statuses.append(response.status_code)

    assert statuses == [401] * 10 + [429]
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many attempts" in response.get_data(as_text=True)
    # Even the right password waits: the limit is on the account, not on wrong guesses.
    blocked = client.post(
        "/login", data={"csrf_token": token, "email": "ada@example.com", "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert client.get("/account").status_code == 302


def test_the_log_in_limit_counts_posts_only(app, client):
    for _ in range(30):
        assert client.get("/login").status_code == 200


def test_sign_ups_from_one_address_are_limited(app, client):
    browser(client)
    token = csrf_token(client.get("/signup").text)
    data = {"csrf_token": token, "email": "x@example.com", "password": "short", "confirm": "short"}

    statuses = [client.post("/signup", data=data).status_code for _ in range(11)]

    assert statuses == [400] * 10 + [429]


def test_log_ins_from_one_address_are_limited_across_accounts(app, client):
    browser(client)
    token = csrf_token(client.get("/login").text)

    # No password: refused before any hashing, and still counted.
    statuses = [
        client.post("/login", data={"csrf_token": token, "email": f"u{i}@example.com"}).status_code
        for i in range(21)
    ]

    assert statuses == [401] * 20 + [429]
    assert int(client.post("/login", data={"csrf_token": token}).headers["Retry-After"]) > 0


def _from_address(app, address: str):
    """A browser of its own at `address`, as the app sees the client behind its proxy."""
    client = browser(app.test_client())
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _log_ins(client, times: int, password: str = "wrong password!", email="ada@example.com"):
    token = csrf_token(client.get("/login").text)
    data = {"csrf_token": token, "email": email, "password": password}
    return [client.post("/login", data=data) for _ in range(times)]


def _statuses(responses) -> list[int]:
    return [r.status_code for r in responses]


def _add_failures(app, times: int, age: timedelta, address="127.0.0.1", email="ada@example.com"):
    with app.app_context():
        at = utcnow() - age
        db.session.add_all(
            AuthAttempt(action="log-in", address=address, email=email, created_at=at)
            for _ in range(times)
        )
        db.session.commit()


def test_a_stranger_guessing_cannot_lock_the_owner_out(app):
    with app.app_context():
        make_user()
    stranger = _from_address(app, "198.51.100.66")

    assert _statuses(_log_ins(stranger, 11)) == [401] * 10 + [429]

    owner = _from_address(app, "203.0.113.5")
    assert _statuses(_log_ins(owner, 2)) == [401, 401]
    assert log_in(owner).headers["Location"] == "/account"
    assert owner.get("/account").status_code == 200
    # The stranger's address stays blocked, whatever password it tries now.
    assert _statuses(_log_ins(stranger, 1, password=PASSWORD)) == [429]


def test_a_correct_log_in_forgets_the_mistakes_before_it(app, client):
    with app.app_context():
        make_user()
    browser(client)

    assert _statuses(_log_ins(client, 9)) == [401] * 9
    log_in(client)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})

    assert _statuses(_log_ins(client, 11)) == [401] * 10 + [429]


def test_failed_log_ins_leave_the_minute_window_and_count_in_the_hour(app, client):
    with app.app_context():
        make_user()
    browser(client)

    # Ten failures a minute and a half ago: the minute's limit is free again.
    _add_failures(app, 10, timedelta(seconds=90))
    assert _statuses(_log_ins(client, 1)) == [401]

    # Fifty within the hour: the hour's limit holds until the oldest is an hour old.
    _add_failures(app, 39, timedelta(minutes=30))
    [refused] = _log_ins(client, 1)
    assert refused.status_code == 429
    assert 1700 < int(refused.headers["Retry-After"]) <= 1800 + 5
    assert "Please try again in 30 minutes." in refused.text


def test_a_refused_log_in_says_when_to_try_again_and_does_not_count(app, client):
    browser(client)
    _add_failures(app, 10, timedelta(seconds=20))

    first, second = _log_ins(client, 2)

    assert first.status_code == second.status_code == 429
    assert 35 <= int(first.headers["Retry-After"]) <= 40
    assert "Please try again in a minute." in first.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuthAttempt)) == 10


def test_attempts_older_than_an_hour_are_deleted_as_new_ones_arrive(app, client):
    _add_failures(app, 3, timedelta(minutes=61), address="198.51.100.66")
    _add_failures(app, 2, timedelta(minutes=59), address="198.51.100.66")
    browser(client)

    _log_ins(client, 1)

    with app.app_context():
        ages = db.session.scalars(sa.select(AuthAttempt.created_at))
        assert sorted(utcnow() - at < timedelta(hours=1) for at in ages) == [True] * 3


def test_a_form_sent_after_the_session_ended_asks_for_log_in_then_shows_the_account(app, client):
    with app.app_context():
        make_user()
    browser(client)

    response = post_form(client, "/account/keys", {"name": "k", "scopes": "todos:read"})

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 0
