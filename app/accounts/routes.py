"""Sign-up, log-in, log-out and the account page: API keys, connected apps, export, deletion.

Every POST here carries a CSRF token (protect_forms); log-in and sign-up are rate limited.
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

from app.accounts import service
from app.accounts.forms import DeleteAccountForm, LoginForm, SignupForm
from app.accounts.session import login_required, login_user, logout_user, safe_next, session_user
from app.extensions import db, protect_forms
from app.keys import service as keys
from app.keys.forms import CreateKeyForm
from app.models import ID_MAX, utcnow
from app.ratelimit import (
    LOGIN_ACCOUNT_LIMIT,
    LOGIN_IP_LIMIT,
    SIGNUP_IP_LIMIT,
    limiter,
    login_account_key,
)

blp = Blueprint("accounts", __name__)
protect_forms(blp)

# Pages that show a key or personal data must not be kept by browsers or proxies.
NO_STORE = {"Cache-Control": "no-store"}


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


@blp.app_template_filter("datetime")
def format_datetime(value: datetime | None, empty: str = "–") -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else empty


@blp.app_template_filter("date")
def format_date(value: datetime) -> str:
    return f"{value:%Y-%m-%d}"


@blp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_IP_LIMIT, methods=["POST"])
@limiter.limit(LOGIN_ACCOUNT_LIMIT, methods=["POST"], key_func=login_account_key)
def login():
    next_url = request.args.get("next")
    if session_user() is not None:
        return redirect(safe_next(next_url))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = service.authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(safe_next(next_url))
    if request.method == "POST":
        error = "Wrong email or password."
    status = 401 if error else 200
    return render_template("accounts/login.html", form=form, error=error, next=next_url), status


@blp.route("/signup", methods=["GET", "POST"])
@limiter.limit(SIGNUP_IP_LIMIT, methods=["POST"])
def signup():
    next_url = request.args.get("next")
    if not current_app.config["SIGNUP_OPEN"]:
        return render_template("accounts/signup_closed.html"), 403
    if session_user() is not None:
        return redirect(safe_next(next_url))
    form = SignupForm()
    error = None
    if form.validate_on_submit():
        try:
            user = service.create_user(form.email.data, form.password.data)
        except service.AccountError as exc:
            error = str(exc)
        else:
            login_user(user)
            flash("Welcome! Your account is ready.", "success")
            return redirect(safe_next(next_url))
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


def _account_page(*, key_form=None, delete_form=None, new_key=None, status=200):
    user = session_user()
    body = render_template(
        "accounts/account.html",
        user=user,
        key_form=key_form or CreateKeyForm(formdata=None),
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
    name = service.disconnect_app(session_user(), client_pk)
    if name is None:
        abort(404)
    flash(f"{name} is disconnected; its access stopped working.", "success")
    return redirect(url_for("accounts.account", _anchor="apps"))


@blp.post("/account/export")
@login_required
def export_data():
    data = service.export_data(session_user())
    filename = f"todo-action-export-{utcnow():%Y-%m-%d}.json"
    return current_app.response_class(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **NO_STORE},
    )


@blp.post("/account/delete")
@login_required
def delete_account():
    form = DeleteAccountForm()
    if form.validate():
        try:
            service.delete_account(session_user(), form.password.data)
        except service.AccountError as exc:
            form.password.errors = [*form.password.errors, str(exc)]
        else:
            logout_user()
            flash("Your account and all its data are deleted.", "success")
            return redirect(url_for("web.index"))
    return _account_page(delete_form=form, status=400)
