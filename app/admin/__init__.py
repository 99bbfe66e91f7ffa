"""Admin pages: OAuth clients (the same operations as `flask clients`), a password reset
(as `flask users set-password`) and the GPT setup guide."""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from app.accounts import service as accounts
from app.accounts.session import admin_required, session_user
from app.extensions import protect_forms
from app.gptsetup import guide
from app.oauth import clients as service

blp = Blueprint("admin", __name__)
protect_forms(blp)


def _client_or_404(client_id: str):
    try:
        return service.find_client(client_id)
    except service.ClientError:
        abort(404)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


@blp.get("/admin")
@admin_required
def index():
    return render_template("admin/index.html", clients=service.list_clients())


@blp.post("/admin/clients")
@admin_required
def create_client():
    try:
        client, secret = service.create_client(
            request.form.get("name", ""),
            redirect_uris=_lines(request.form.get("redirect_uris", "")),
            gpt_ids=_lines(request.form.get("gpt_ids", "")),
            any_chatgpt=request.form.get("any_chatgpt") == "on",
        )
    except service.ClientError as error:
        flash(str(error), "error")
        return render_template("admin/index.html", clients=service.list_clients()), 400
    return render_template("admin/secret.html", client=client, secret=secret, created=True)


@blp.post("/admin/clients/<client_id>/allow")
@admin_required
def allow(client_id: str):
    client = _client_or_404(client_id)
    try:
        for value in _lines(request.form.get("value", "")):
            if value.startswith(("g-", "plugin-")):
                service.add_gpt(client, value)
            else:
                service.add_redirect(client, value)
    except service.ClientError as error:
        flash(str(error), "error")
    return redirect(url_for("admin.index"))


@blp.post("/admin/clients/<client_id>/remove")
@admin_required
def remove(client_id: str):
    try:
        service.remove_redirect(_client_or_404(client_id), request.form.get("value", ""))
    except service.ClientError as error:
        flash(str(error), "error")
    return redirect(url_for("admin.index"))


@blp.post("/admin/clients/<client_id>/rotate-secret")
@admin_required
def rotate_secret(client_id: str):
    client = _client_or_404(client_id)
    try:
        secret = service.rotate_secret(client)
    except service.ClientError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.index"))
    return render_template("admin/secret.html", client=client, secret=secret, created=False)


@blp.post("/admin/clients/<client_id>/delete")
@admin_required
def delete(client_id: str):
    client = _client_or_404(client_id)
    service.delete_client(client)
    flash(f"Deleted {client.name}; its sign-ins have ended.")
    return redirect(url_for("admin.index"))


@blp.post("/admin/users/reset-password")
@admin_required
def reset_password():
    """Ask once more, then give the account a random password, shown once, and end every
    log-in of it: for a person who forgot theirs, or whose account someone else may be in."""
    try:
        user = accounts.get_user(request.form.get("email", ""))
    except accounts.AccountError as error:
        flash(str(error), "error")
        return render_template("admin/index.html", clients=service.list_clients()), 400
    if request.form.get("confirm") != "yes":
        return render_template(
            "admin/reset_password.html", user=user, own_account=user == session_user()
        )
    password = secrets.token_urlsafe(15)
    accounts.set_password(user, password)
    return (
        render_template("admin/new_password.html", user=user, password=password),
        200,
        # The one page that shows the password must not be kept by a browser or proxy.
        {"Cache-Control": "no-store"},
    )


@blp.get("/setup")
@admin_required
def setup():
    clients = service.list_clients()
    chosen = request.args.get("client")
    client = next((c for c in clients if c.client_id == chosen), None)
    if client is None and len(clients) == 1:
        client = clients[0]
    return render_template("admin/setup.html", guide=guide(client), clients=clients, client=client)
