"""`flask keys create|list|revoke`: API keys for operators and scripts."""

from __future__ import annotations

import json

import click

from app.cli import AppGroup
from app.keys import service
from app.keys.service import describe_key
from app.resources import all_scopes
from app.users import UnknownUser, get_user

keys_cli = AppGroup("keys", help="Create, list and revoke per-user API keys.")


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@keys_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="To tell the key apart, e.g. the GPT's name.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    metavar="SCOPE",
    help="Repeat for several; default: every scope the API declares.",
)
@click.option(
    "--expires-in", type=int, metavar="DAYS", help="Days until it expires; default: never."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
def create(
    email: str, name: str, scopes: tuple[str, ...], expires_in: int | None, as_json: bool
) -> None:
    """Create an API key for the account EMAIL and print it (the only time it is shown)."""
    try:
        user = get_user(email)
        key, raw = service.create_key(user, name, scopes or list(all_scopes()), expires_in)
    except (UnknownUser, service.ApiKeyError) as exc:
        raise _fail(exc) from None
    info = describe_key(key)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": key.id,
                    "key": raw,
                    "prefix": key.prefix,
                    "name": key.name,
                    "scopes": key.scopes,
                    "expires_at": info["expires_at"],
                }
            )
        )
        return
    click.echo(f"Created key {key.id} “{key.name}” for {user.email}")
    click.echo(f"Scopes:  {' '.join(key.scopes)}")
    click.echo(f"Expires: {info['expires_at'] or 'never'}")
    click.echo("The key, shown only this once:")
    click.echo(raw)


@keys_cli.command("list")
@click.argument("email", required=False)
def list_keys(email: str | None) -> None:
    """List API keys, of one account or of all: id, prefix, owner, name, scopes, status."""
    try:
        user = get_user(email) if email else None
    except UnknownUser as exc:
        raise _fail(exc) from None
    keys = service.list_keys(user)
    if not keys:
        click.echo("No API keys.")
        return
    for key in keys:
        last = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
        expires = f"expires {key.expires_at:%Y-%m-%d}" if key.expires_at else "no expiry"
        click.echo(
            f"{key.id}\t{key.prefix}\t{key.user.email}\t{key.name}\t{' '.join(key.scopes)}\t"
            f"{service.key_status(key)}\t{expires}\t{last}"
        )


@keys_cli.command("revoke")
@click.argument("key_id_or_prefix")
def revoke(key_id_or_prefix: str) -> None:
    """Revoke a key, named by its id or its prefix (tdk_...)."""
    try:
        key = service.find_key(key_id_or_prefix)
    except service.ApiKeyError as exc:
        raise _fail(exc) from None
    already = key.revoked_at is not None
    service.revoke(key)
    state = "was already revoked" if already else "is revoked"
    click.echo(f"Key {key.id} ({key.prefix}) “{key.name}” of {key.user.email} {state}")
