"""Who is signed in to the web pages (account, consent, admin).

Flask's signed cookie session carries a random token (and Flask-WTF's CSRF token); the server
keeps only the token's digest, in a `user_sessions` row. The row decides: deleting it ends the
session for every copy of the cookie, and deleting the user deletes it (ON DELETE CASCADE), so
a session never outlives its user. A session also ends SESSION_IDLE_MINUTES after its last page
load and SESSION_MAX_DAYS after the log-in.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Flask,
    Request,
    abort,
    current_app,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from app.extensions import db
from app.models import User, UserSession, utcnow
from app.secrets_util import digest

# The key in Flask's cookie session that holds the session token.
TOKEN_KEY = "sid"
# last_seen_at is written at most this often, not on every page load: one write a minute per
# session at most, at the price of an idle session ending up to this much early.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


class CookieSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # API calls carry no cookie; Flask would build a signing serializer for each anyway.
        if "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def _lifetimes() -> tuple[timedelta, timedelta]:
    config = current_app.config
    return timedelta(minutes=config["SESSION_IDLE_MINUTES"]), timedelta(
        days=config["SESSION_MAX_DAYS"]
    )


def _expired(now: datetime) -> sa.ColumnElement[bool]:
    """The condition that holds for a session row that has ended by time, as of `now`."""
    idle, longest = _lifetimes()
    return sa.or_(UserSession.last_seen_at <= now - idle, UserSession.created_at <= now - longest)


def login_user(user: User) -> None:
    """Start a new session for `user` in this browser, and forget the user's ended ones."""
    # Everything of an earlier session goes, so a session planted before log-in is worthless.
    session.clear()
    now = utcnow()
    # Without a cron job, a user's ended sessions are cleared when the user next logs in.
    db.session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id, _expired(now)))
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(user_id=user.id, token_digest=digest(token), created_at=now, last_seen_at=now)
    )
    db.session.commit()
    session[TOKEN_KEY] = token
    session.permanent = True
    g.pop("user_session", None)


def logout_user() -> None:
    """End this browser's session, for every copy of its cookie."""
    token = session.get(TOKEN_KEY)
    if isinstance(token, str):
        db.session.execute(sa.delete(UserSession).where(UserSession.token_digest == digest(token)))
        db.session.commit()
    session.clear()
    g.pop("user_session", None)


def current_session() -> UserSession | None:
    """This browser's live session, or None; a session found ended is deleted."""
    if "user_session" in g:
        return g.user_session
    g.user_session = None
    token = session.get(TOKEN_KEY)
    if not isinstance(token, str):
        return None
    row = db.session.scalar(sa.select(UserSession).where(UserSession.token_digest == digest(token)))
    now = utcnow()
    idle, longest = _lifetimes()
    # Statements rather than ORM flushes below: another request (a log-out in another tab) may
    # have deleted the row meanwhile, and a flush that finds no row raises.
    if row is None or row.last_seen_at <= now - idle or row.created_at <= now - longest:
        if row is not None:
            db.session.execute(sa.delete(UserSession).where(UserSession.id == row.id))
            db.session.commit()
        # A stale token stays out of the cookie; the CSRF token in it is kept for the forms.
        session.pop(TOKEN_KEY, None)
        return None
    if row.user.is_demo:
        return None
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        db.session.execute(
            sa.update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)
        )
        db.session.commit()
    g.user_session = row
    return row


def session_user() -> User | None:
    row = current_session()
    return row.user if row is not None else None


def safe_next(target: str | None, default: str = "/account") -> str:
    """Only same-site paths: an open redirect after log-in would be a phishing tool."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        if session_user() is None:
            # After log-in the browser GETs `next`: a form's POST-only URL would answer 405.
            target = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("accounts.login", next=target))
        return view(*args, **kwargs)

    return wrapper


def admin_required(view: Callable) -> Callable:
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not session_user().is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper
