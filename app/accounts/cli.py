"""`flask users create|list|set-password|set-admin`: accounts for operators, without pages."""

from __future__ import annotations

import sys

import click

from app.accounts import service
from app.cli import AppGroup
from app.users import UnknownUser, get_user

users_cli = AppGroup("users", help="Create and list accounts, reset passwords, and make admins.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("create")
@click.argument("email")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.option("--admin", is_flag=True, help="Make the account an admin.")
def create(email: str, password_stdin: bool, admin: bool) -> None:
    """Create an account for EMAIL; the password is asked for twice."""
    try:
        # Checked before asking, so a typo in EMAIL does not cost a password prompt.
        service.normalise_email(email)
        user = service.create_user(email, _read_password(password_stdin), is_admin=admin)
    except service.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {'admin ' if admin else ''}account {user.email} (id {user.id})")


@users_cli.command("list")
def list_users() -> None:
    """List accounts: id, email, admin, created."""
    users = service.list_users()
    if not users:
        click.echo("No accounts.")
        return
    for user in users:
        role = "admin" if user.is_admin else "user"
        click.echo(f"{user.id}\t{user.email}\t{role}\t{user.created_at:%Y-%m-%d %H:%M}")


@users_cli.command("set-password")
@click.argument("email")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
def set_password(email: str, password_stdin: bool) -> None:
    """Give EMAIL a new password (asked for twice) and end all its log-ins to the pages."""
    try:
        # Looked up before asking, so a typo in EMAIL does not cost a password prompt.
        user = get_user(email)
        password = service.check_password(_read_password(password_stdin), email=user.email)
    except (UnknownUser, service.AccountError) as exc:
        raise click.ClickException(str(exc)) from None
    ended = service.set_password(user, password)
    click.echo(f"Changed the password of {user.email}; ended {ended} log-in(s) to its pages")


@users_cli.command("set-admin")
@click.argument("email")
@click.option("--revoke", is_flag=True, help="Take admin rights away instead.")
def set_admin(email: str, revoke: bool) -> None:
    """Make EMAIL an admin (or, with --revoke, no longer one)."""
    try:
        user = get_user(email)
    except UnknownUser as exc:
        raise click.ClickException(str(exc)) from None
    service.set_admin(user, not revoke)
    click.echo(f"{user.email} is {'no longer' if revoke else 'now'} an admin")
