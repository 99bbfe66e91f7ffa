"""Log-ins to the web pages end when they should, for every copy of the cookie.

A session is a row the server can delete: log-out, a password change or reset, an account
deletion and the idle and absolute lifetimes all end it, and a copied cookie then logs nobody
in, least of all the next account to be made.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from app.accounts import service
from app.attempts import LOGIN_ACCOUNT_LIMIT
from app.config import slug
from app.extensions import db
from app.models import User, UserSession, utcnow
from tests.browser import browser, csrf_token, log_in, post_form
from tests.factories import PASSWORD, make_user

# The first (per minute) of the log-in limits per account and address.
LOGIN_ACCOUNT_PER_MINUTE = int(LOGIN_ACCOUNT_LIMIT.split()[0])

COOKIE = f"{slug()}_session"
NEW_PASSWORD = "a quite different passphrase"


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE, domain=client.application.config["SERVER_NAME"])
    assert cookie is not None
    return cookie.value


def _copy(app, source: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `source`'s session cookie, as a thief would."""
    copy = browser(app.test_client())
    copy.set_cookie(COOKIE, _cookie(source), domain=app.config["SERVER_NAME"])
    return copy


def _logged_in(client: FlaskClient) -> bool:
    response = client.get("/account")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def _log_out(client: FlaskClient):
    return client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})


def _sessions(app, email: str = "ada@example.com") -> list[UserSession]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                sa.select(UserSession)
                .join(User)
                .where(User.email == email)
                .order_by(UserSession.id)
            )
        )
        db.session.expunge_all()
        return rows


def _age_sessions(app, **ago: timedelta) -> None:
    """Move every session's `created_at` or `last_seen_at` back by the given time."""
    with app.app_context():
        for row in db.session.scalars(sa.select(UserSession)):
            for column, delta in ago.items():
                setattr(row, column, getattr(row, column) - delta)
        db.session.commit()


def _change_password(client: FlaskClient, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    data = {"current": current, "password": new, "confirm": new if confirm is None else confirm}
    return post_form(client, "/account/password", data, page="/account")


def test_log_out_ends_the_session_for_every_copy_of_the_cookie(app, user_browser):
    stolen = _copy(app, user_browser)
    assert _logged_in(stolen)

    _log_out(user_browser)

    assert not _logged_in(stolen)
    assert not _logged_in(user_browser)
    assert _sessions(app) == []


def test_a_deleted_accounts_cookie_never_acts_as_the_next_account(app, user_browser):
    stolen = _copy(app, user_browser)
    post_form(user_browser, "/account/delete", {"password": PASSWORD}, page="/account")
    bob = browser(app.test_client())
    data = {"email": "bob@example.com", "password": PASSWORD, "confirm": PASSWORD}
    assert post_form(bob, "/signup", data, page="/signup").status_code == 302
    log_in(bob, "bob@example.com")

    page = stolen.get("/account")

    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login")
    assert "bob@example.com" not in stolen.get("/").get_data(as_text=True)
    assert _logged_in(bob)


def test_a_deleted_users_id_is_never_given_to_the_next_user(app, client):
    def sign_up(email: str) -> int:
        data = {"email": email, "password": PASSWORD, "confirm": PASSWORD}
        assert post_form(browser(client), "/signup", data, page="/signup").status_code == 302
        with app.app_context():
            return db.session.scalar(sa.select(User.id).where(User.email == email))

    ada = sign_up("ada@example.com")
    log_in(client)
    post_form(client, "/account/delete", {"password": PASSWORD}, page="/account")
    with app.app_context():
        assert db.session.get(User, ada) is None

    assert sign_up("bob@example.com") > ada


def test_a_deleted_todos_id_never_names_the_next_todo(api):
    first = api.post("/todos", json={"title": "Old"}).json["id"]
    api.delete(f"/todos/{first}")

    second = api.post("/todos", json={"title": "New"}).json["id"]

    assert second > first
    assert api.get(f"/todos/{first}").status_code == 404


def test_a_cookie_that_names_only_a_user_id_logs_nobody_in(app, account):
    # The form sessions took before the server kept them: signed, but not a session.
    forged = app.session_interface.get_signing_serializer(app).dumps({"user_id": account})
    client = browser(app.test_client())
    client.set_cookie(COOKIE, forged, domain=app.config["SERVER_NAME"])

    assert not _logged_in(client)


def test_log_in_starts_a_new_session_and_leaves_the_others(app, user_browser):
    other = browser(app.test_client())
    log_in(other)

    assert len(_sessions(app)) == 2
    assert _logged_in(user_browser) and _logged_in(other)
    assert _cookie(user_browser) != _cookie(other)


def test_the_cookie_holds_a_token_whose_digest_alone_is_stored(app, user_browser):
    serializer = app.session_interface.get_signing_serializer(app)
    contents = serializer.loads(_cookie(user_browser))
    [row] = _sessions(app)

    assert "user_id" not in contents
    assert contents["sid"] not in row.token_digest
    assert len(contents["sid"]) >= 40


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(app, user_browser):
    other = browser(app.test_client())
    log_in(other)
    stolen = _copy(app, other)

    response = _change_password(user_browser)

    assert response.status_code == 302
    assert response.headers["Location"] == "/account#password"
    page = user_browser.get("/account")
    assert page.status_code == 200
    assert "Your password is changed" in page.get_data(as_text=True)
    assert not _logged_in(other)
    assert not _logged_in(stolen)
    assert len(_sessions(app)) == 1
    assert (
        post_form(
            browser(app.test_client()), "/login", {"email": "ada@example.com", "password": PASSWORD}
        ).status_code
        == 401
    )
    assert log_in(browser(app.test_client()), password=NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong password!", NEW_PASSWORD, None, "not your current password"),
        ("", NEW_PASSWORD, None, "This field is required"),
        (PASSWORD, "short", None, "10 to 256 characters"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "passwords differ"),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(
    app, user_browser, current, new, confirm, message
):
    other = browser(app.test_client())
    log_in(other)

    response = _change_password(user_browser, current, new, confirm)

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _logged_in(user_browser) and _logged_in(other)
    assert log_in(browser(app.test_client())).status_code == 302


def test_a_password_change_without_the_csrf_token_is_refused(app, user_browser):
    response = user_browser.post(
        "/account/password",
        data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )

    assert response.status_code == 400
    assert log_in(browser(app.test_client())).status_code == 302


def test_the_account_page_offers_the_password_change(user_browser):
    page = user_browser.get("/account").get_data(as_text=True)

    assert 'action="/account/password"' in page
    assert 'autocomplete="current-password"' in page


def test_a_session_idle_for_longer_than_the_setting_ends(app, user_browser):
    _age_sessions(app, last_seen_at=timedelta(minutes=61))

    assert not _logged_in(user_browser)
    assert _sessions(app) == []


def test_a_session_in_use_stays_until_its_absolute_lifetime(app, user_browser):
    _age_sessions(app, created_at=timedelta(hours=23), last_seen_at=timedelta(minutes=59))
    assert _logged_in(user_browser)

    _age_sessions(app, created_at=timedelta(hours=1, minutes=1))

    assert not _logged_in(user_browser)


def test_the_lifetimes_are_settings(database_url, app):
    from tests.conftest import build_app

    short = build_app(database_url, SESSION_IDLE_MINUTES="5", SESSION_MAX_DAYS="2")
    try:
        with short.app_context():
            make_user()
        client = browser(short.test_client())
        cookie = log_in(client).headers.getlist("Set-Cookie")
        expires = parsedate_to_datetime(
            next(c for c in cookie if c.startswith(COOKIE)).split("Expires=")[1].split(";")[0]
        )
        assert timedelta(days=2) - timedelta(minutes=1) < expires - utcnow() <= timedelta(days=2)

        _age_sessions(short, last_seen_at=timedelta(minutes=4))
        assert _logged_in(client)
        _age_sessions(short, last_seen_at=timedelta(minutes=6))
        assert not _logged_in(client)
    finally:
        with short.app_context():
            db.session.remove()
            db.engine.dispose()


def test_last_seen_is_written_at_most_once_a_minute(app, user_browser):
    _age_sessions(app, last_seen_at=timedelta(seconds=30))
    [before] = _sessions(app)

    user_browser.get("/account")
    user_browser.get("/")
    [unchanged] = _sessions(app)
    _age_sessions(app, last_seen_at=timedelta(seconds=31))
    user_browser.get("/account")
    [after] = _sessions(app)

    assert unchanged.last_seen_at == before.last_seen_at
    assert utcnow() - after.last_seen_at < timedelta(seconds=5)


def test_log_in_clears_the_users_ended_sessions(app, user_browser):
    _age_sessions(app, last_seen_at=timedelta(hours=2))
    with app.app_context():
        make_user("bob@example.com")
    log_in(browser(app.test_client()), "bob@example.com")
    _age_sessions(app, last_seen_at=timedelta(hours=2))

    log_in(browser(app.test_client()))

    assert len(_sessions(app)) == 1
    assert len(_sessions(app, "bob@example.com")) == 1


@pytest.fixture
def admin_browser(app) -> FlaskClient:
    with app.app_context():
        make_user("root@example.com", is_admin=True)
    client = browser(app.test_client())
    log_in(client, "root@example.com")
    return client


def _reset(admin: FlaskClient, email: str, **extra: str):
    return post_form(admin, "/admin/users/reset-password", {"email": email, **extra}, page="/admin")


def test_an_admin_password_reset_asks_first_then_shows_a_new_password_once(
    app, admin_browser, user_browser
):
    stolen = _copy(app, user_browser)

    asked = _reset(admin_browser, "Ada@Example.com")
    assert asked.status_code == 200
    assert "Reset the password of ada@example.com?" in asked.get_data(as_text=True)
    assert _logged_in(user_browser)

    done = _reset(admin_browser, "ada@example.com", confirm="yes")

    assert done.status_code == 200
    assert done.headers["Cache-Control"] == "no-store"
    [password] = re.findall(r'<p class="secret">([^<]+)</p>', done.get_data(as_text=True))
    assert not _logged_in(user_browser)
    assert not _logged_in(stolen)
    assert _logged_in(admin_browser)
    failed = post_form(
        browser(app.test_client()), "/login", {"email": "ada@example.com", "password": PASSWORD}
    )
    assert failed.status_code == 401
    assert log_in(browser(app.test_client()), password=password).status_code == 302


def test_the_admin_page_offers_the_password_reset(admin_browser):
    page = admin_browser.get("/admin").get_data(as_text=True)

    assert 'action="/admin/users/reset-password"' in page


def test_an_admin_reset_of_an_unknown_email_says_so(app, admin_browser):
    response = _reset(admin_browser, "nobody@example.com", confirm="yes")

    assert response.status_code == 400
    assert "No account with email nobody@example.com" in response.get_data(as_text=True)


def test_only_admins_can_reset_passwords(app, user_browser):
    with app.app_context():
        make_user("bob@example.com")
    bob = browser(app.test_client())
    log_in(bob, "bob@example.com")

    response = _reset(user_browser, "bob@example.com", confirm="yes")

    assert response.status_code == 403
    assert _logged_in(bob)


@pytest.mark.parametrize(
    ("path", "form"),
    [
        (
            "/account/password",
            {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        ),
        ("/account/delete", {}),
    ],
)
def test_a_left_open_session_cannot_guess_the_password_faster_than_the_log_in_page(
    app, user_browser, path, form
):
    field = "current" if path == "/account/password" else "password"
    token = csrf_token(user_browser.get("/account").text)

    statuses = [
        user_browser.post(path, data={"csrf_token": token, field: f"guess {n}", **form}).status_code
        for n in range(LOGIN_ACCOUNT_PER_MINUTE + 1)
    ]

    assert statuses == [400] * LOGIN_ACCOUNT_PER_MINUTE + [429]
    with app.app_context():  # the account and its password are as they were
        assert service.authenticate("ada@example.com", PASSWORD) is not None
