"""Admin pages: OAuth clients (the same operations as `flask clients`), a password reset
(as `flask users set-password`) and the GPT setup guide."""

from __future__ import annotations

import secrets

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

from app.accounts import service as accounts
from app.errors import error_response
from app.extensions import protect_forms
from app.gptsetup import guide
from app.login_session import admin_required, session_user
from app.models.oauth import CREATED
from app.oauth import clients as service
from app.security_headers import NO_STORE
from app.shell import flask_command
from app.users import UnknownUser, get_user

blp = Blueprint("admin", __name__)
protect_forms(blp)
blp.add_app_template_filter(service.origin_label, "origin_label")


@blp.errorhandler(403)
def not_an_admin(error):
    """The way in, for an account that is not an admin yet: only the operator can give it,
    from a shell where the app runs."""
    user = session_user()
    if user is None or user.is_admin:
        return error_response(error)
    return render_template(
        "error.html",
        title="Admins only",
        message=(
            f"You are logged in as {user.email}, which is not an admin account. "
            "The operator makes it one from a shell where the app runs:"
        ),
        command=flask_command("users", "set-admin", user.email),
        after="Then reload this page.",
    ), 403


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
    return (
        render_template("admin/secret.html", client=client, secret=secret, created=True),
        200,
        NO_STORE,
    )


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


def _confirmed() -> bool:
    """Whether the person pressed the button on the confirmation page. Without script (the
    Content-Security-Policy allows none inline) the page is the only way to ask."""
    return request.method == "POST" and request.form.get("confirm") == "yes"


def _confirmation(title: str, consequence: str, action: str):
    return render_template(
        "admin/confirm.html", title=title, consequence=consequence, action=action
    )


@blp.route("/admin/clients/<client_id>/rotate-secret", methods=["GET", "POST"])
@admin_required
def rotate_secret(client_id: str):
    client = _client_or_404(client_id)
    if not _confirmed():
        return _confirmation(
            f"New client secret for {client.name}?",
            "The current secret stops working at once: the GPT cannot sign anyone in until "
            "the new secret is pasted into its OAuth settings. People already signed in stay "
            "signed in.",
            "Make a new secret",
        )
    try:
        secret = service.rotate_secret(client)
    except service.ClientError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.index"))
    return (
        render_template("admin/secret.html", client=client, secret=secret, created=False),
        200,
        NO_STORE,
    )


# path: the ID of a client known by its metadata document is a URL, slashes and all.
@blp.route("/admin/clients/<path:client_id>/delete", methods=["GET", "POST"], merge_slashes=False)
@admin_required
def delete(client_id: str):
    client = _client_or_404(client_id)
    if not _confirmed():
        consequence = (
            "Everyone signed in through it is signed out, and the GPT cannot sign anyone in "
            "again. A new client means new settings in the GPT editor."
        )
        if client.registered_itself:
            # Deleting ends its sign-ins, not its ability to register (CLIENT_REGISTRATION).
            consequence = (
                "Everyone signed in through it is signed out. It registered itself, and can do "
                "so again at its next sign-in while CLIENT_REGISTRATION allows its callbacks "
                f"(now: {current_app.config['CLIENT_REGISTRATION']})."
            )
        return _confirmation(f"Delete {client.name}?", consequence, "Delete the client")
    service.delete_client(client)
    flash(f"Deleted {client.name}; its sign-ins have ended.")
    return redirect(url_for("admin.index"))


@blp.post("/admin/users/reset-password")
@admin_required
def reset_password():
    """Ask once more, then give the account a random password, shown once, and end every
    log-in of it: for a person who forgot theirs, or whose account someone else may be in."""
    try:
        user = get_user(request.form.get("email", ""))
    except UnknownUser as error:
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
        NO_STORE,
    )


@blp.get("/setup")
@admin_required
def setup():
    clients = service.list_clients(origin=CREATED)
    chosen = request.args.get("client")
    client = next((c for c in clients if c.client_id == chosen), None)
    if client is None and len(clients) == 1:
        client = clients[0]
    return render_template("admin/setup.html", guide=guide(client), clients=clients, client=client)
