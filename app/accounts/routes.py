"""Sign-up, log-in, log-out and the account page."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request, url_for

from app.accounts.passwords import verify_password
from app.accounts.session import login_required, login_user, logout_user, safe_next
from app.extensions import db, protect_forms
from app.models import User

blp = Blueprint("accounts", __name__)
protect_forms(blp)


@blp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if verify_password(user.password_hash if user else None, request.form.get("password", "")):
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
        error = "Wrong email or password."
    return render_template("accounts/login.html", error=error), 401 if error else 200


@blp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("web.index"))


@blp.get("/account")
@login_required
def account():
    return render_template("accounts/account.html")
