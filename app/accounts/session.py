"""Who is signed in to the web pages (account, consent, admin): a signed session cookie."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, Request, abort, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from app.extensions import db
from app.models import User


class CookieSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # API calls carry no cookie; Flask would build a signing serializer for each anyway.
        if "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def login_user(user: User) -> None:
    # A new session on every log-in, so a session id planted before log-in is worthless.
    session.clear()
    session["user_id"] = user.id
    session.permanent = True


def logout_user() -> None:
    session.clear()


def session_user() -> User | None:
    if "session_user" not in g:
        user_id = session.get("user_id")
        user = db.session.get(User, user_id) if isinstance(user_id, int) else None
        if user is None or user.is_demo:
            user = None
        g.session_user = user
    return g.session_user


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
