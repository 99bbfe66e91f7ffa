"""Sign-up, log-in, log-out and the account page: API keys, connected apps, export, deletion.

Every POST here carries a CSRF token (protect_forms); log-in and sign-up attempts are limited
(app/attempts.py).
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import SQLAlchemyError

from app import attempts
from app.accounts import service
from app.accounts.forms import ChangePasswordForm, DeleteAccountForm, LoginForm, SignupForm
from app.extensions import db, protect_forms
from app.keys import service as keys
from app.keys.forms import CreateKeyForm
from app.login_session import (
    current_session,
    login_required,
    login_user,
    logout_user,
    safe_next,
    session_user,
)
from app.models import ID_MAX, utcnow
from app.security_headers import NO_STORE

blp = Blueprint("accounts", __name__)
protect_forms(blp)

SIGNED_UP = (
    "Your account is ready: log in with your email address and password. If this address "
    "already had an account, nothing about it changed: log in with the password it has."
)


@blp.app_context_processor
def inject_session_user():
    def nav_user():
        try:
            return session_user()
        except SQLAlchemyError:
            # An error page about the database must still render.
            db.session.rollback()
            return None

    def has_endpoint(endpoint: str) -> bool:
        return endpoint in current_app.view_functions

    return {"nav_user": nav_user, "has_endpoint": has_endpoint}


@blp.errorhandler(attempts.TooManyAttempts)
def too_many_attempts(error: attempts.TooManyAttempts):
    # The shared 429 page says "a minute"; these limits can last up to an hour.
    page = render_template("error.html", title="Too many attempts", message=str(error))
    return page, 429, {"Retry-After": str(error.retry_after)}


@blp.app_template_filter("datetime")
def format_datetime(value: datetime | None, empty: str = "–") -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else empty


@blp.app_template_filter("date")
def format_date(value: datetime) -> str:
    return f"{value:%Y-%m-%d}"


@blp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.args.get("next")
    if session_user() is not None:
        return redirect(safe_next(next_url))
    form = LoginForm()
    error = None
    if request.method == "POST":
        attempt = attempts.record(attempts.LOGIN, form.email.data)
    if form.validate_on_submit():
        user = service.authenticate(form.email.data, form.password.data)
        if user is not None:
            attempts.logged_in(attempt, form.email.data)
            login_user(user)
            return redirect(safe_next(next_url))
    if request.method == "POST":
        error = "Wrong email or password."
    status = 401 if error else 200
    return render_template("accounts/login.html", form=form, error=error, next=next_url), status


@blp.route("/signup", methods=["GET", "POST"])
def signup():
    next_url = request.args.get("next")
    if not current_app.config["SIGNUP_OPEN"]:
        return render_template("accounts/signup_closed.html"), 403
    if session_user() is not None:
        return redirect(safe_next(next_url))
    form = SignupForm()
    error = None
    if request.method == "POST":
        attempts.record(attempts.SIGNUP)
    if form.validate_on_submit():
        try:
            service.add_user(form.email.data, form.password.data)
        except service.AccountError as exc:
            error = str(exc)
        else:
            # One answer whether the address was new or already had an account, so sign-up
            # cannot tell a stranger who has one; that is also why it does not log in.
            flash(SIGNED_UP, "success")
            return redirect(url_for("accounts.login", next=next_url))
    status = 400 if request.method == "POST" else 200
    return (
        render_template("accounts/signup.html", form=form, error=error, next=next_url),
        status,
    )


@blp.post("/logout")
def logout():
    logout_user()
    flash("You are logged out.", "success")
    return redirect(url_for("web.index"))


def _account_page(*, key_form=None, password_form=None, delete_form=None, new_key=None, status=200):
    user = session_user()
    body = render_template(
        "accounts/account.html",
        user=user,
        key_form=key_form or CreateKeyForm(formdata=None),
        password_form=password_form or ChangePasswordForm(formdata=None),
        delete_form=delete_form or DeleteAccountForm(formdata=None),
        keys=keys.list_keys(user),
        key_status=keys.key_status,
        apps=service.connected_apps(user),
        new_key=new_key,
    )
    return body, status, NO_STORE


@blp.get("/account")
@login_required
def account():
    return _account_page()


@blp.post("/account/keys")
@login_required
def create_key():
    form = CreateKeyForm()
    if not form.validate():
        return _account_page(key_form=form, status=400)
    try:
        key, raw = keys.create_key(
            session_user(), form.name.data, form.scopes.data, form.expires_in_days.data
        )
    except keys.ApiKeyError as exc:
        form.name.errors = [*form.name.errors, str(exc)]
        return _account_page(key_form=form, status=400)
    # Answered directly rather than by redirect: the full key must not pass through the
    # session cookie, and this response is the only place it ever appears.
    return _account_page(new_key={"key": key, "raw": raw}, status=201)


@blp.post(f"/account/keys/<int(max={ID_MAX}):key_id>/revoke")
@login_required
def revoke_key(key_id: int):
    key = keys.revoke_user_key(session_user(), key_id)
    if key is None:
        abort(404)
    flash(f"Key “{key.name}” ({key.prefix}…) is revoked; it no longer works.", "success")
    return redirect(url_for("accounts.account", _anchor="keys"))


@blp.post(f"/account/apps/<int(max={ID_MAX}):client_pk>/disconnect")
@login_required
def disconnect_app(client_pk: int):
    name = service.disconnect_app(session_user(), client_pk, request.form.get("resource"))
    if name is None:
        abort(404)
    flash(f"{name} is disconnected; its access stopped working.", "success")
    return redirect(url_for("accounts.account", _anchor="apps"))


@blp.post("/account/export")
@login_required
def export_data():
    data = service.export_data(session_user())
    filename = f"{current_app.config['APP_NAME']}-export-{utcnow():%Y-%m-%d}.json"
    return current_app.response_class(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **NO_STORE},
    )


@blp.post("/account/password")
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate():
        # The current password is checked like a log-in's, so a left-open session cannot be
        # used to guess it faster than the log-in page allows.
        attempt = attempts.record(attempts.LOGIN, session_user().email)
        try:
            service.change_password(
                session_user(), form.current.data, form.password.data, keep=current_session()
            )
        except service.WrongPassword as exc:
            form.current.errors = [*form.current.errors, str(exc)]
        except service.AccountError as exc:
            # The current password was right: only the new one was refused.
            attempts.logged_in(attempt, session_user().email)
            form.password.errors = [*form.password.errors, str(exc)]
        else:
            attempts.logged_in(attempt, session_user().email)
            flash(
                "Your password is changed. You are still logged in here; "
                "every other log-in to your account has ended.",
                "success",
            )
            return redirect(url_for("accounts.account", _anchor="password"))
    return _account_page(password_form=form, status=400)


@blp.post("/account/delete")
@login_required
def delete_account():
    form = DeleteAccountForm()
    if form.validate():
        # Counted like a log-in, as the password change's check is.
        email = session_user().email
        attempt = attempts.record(attempts.LOGIN, email)
        try:
            service.delete_account(session_user(), form.password.data)
        except service.AccountError as exc:
            form.password.errors = [*form.password.errors, str(exc)]
        else:
            attempts.logged_in(attempt, email)
            logout_user()
            flash("Your account and all its data are deleted.", "success")
            return redirect(url_for("web.index"))
    return _account_page(delete_form=form, status=400)
