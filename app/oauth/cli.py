"""`flask --app app clients ...`: register and manage OAuth clients (the GPTs that sign in)."""

from __future__ import annotations

import json

import click

from app.cli import AppGroup
from app.oauth import clients as service
from app.shell import flask_command

clients_cli = AppGroup("clients", help="Manage OAuth clients (one per GPT, usually).")


def _fail(error: Exception) -> None:
    raise click.ClickException(str(error))


def _show(client, secret: str | None = None) -> None:
    click.echo(f"client_id:     {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}")
        click.echo("  (shown once: paste it into the GPT editor now; only a digest is kept)")
    click.echo(f"name:          {client.name}")
    click.echo(f"type:          {'public (PKCE)' if client.is_public else 'confidential'}")
    click.echo(f"origin:        {service.origin_label(client)}")
    if client.last_used_at:
        click.echo(f"last used:     {client.last_used_at:%Y-%m-%d %H:%M} UTC")
    click.echo(f"scope:         {client.scope}")
    if client.any_chatgpt:
        click.echo("any_chatgpt:   yes — DEVELOPMENT ONLY: accepts every ChatGPT GPT's callback")
    for uri in client.allowed_redirect_uris():
        click.echo(f"redirect_uri:  {uri}")


@clients_cli.command("create")
@click.option("--name", required=True, help="Shown to users on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="An exact redirect URI.")
@click.option(
    "--gpt-id",
    "gpt_ids",
    multiple=True,
    help="A GPT id (g-...): allows its callback on chatgpt.com and chat.openai.com.",
)
@click.option("--any-chatgpt", is_flag=True, help="Development only: allow any GPT's callback.")
@click.option("--public", is_flag=True, help="No secret; PKCE required (not for ChatGPT).")
@click.option("--scope", default=None, help="Default scopes (space-separated).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def create(name, redirect_uris, gpt_ids, any_chatgpt, public, scope, as_json) -> None:
    """Register a client and print its id and secret (once)."""
    try:
        client, secret = service.create_client(
            name,
            redirect_uris=list(redirect_uris),
            gpt_ids=list(gpt_ids),
            any_chatgpt=any_chatgpt,
            public=public,
            scope=scope,
        )
    except service.ClientError as error:
        _fail(error)
    if as_json:
        click.echo(json.dumps({**service.describe(client), "client_secret": secret}))
    else:
        _show(client, secret)


@clients_cli.command("add-redirect")
@click.argument("client_id")
@click.argument("uri")
def add_redirect(client_id: str, uri: str) -> None:
    """Allow a redirect URI (a ChatGPT callback URL allows that GPT on both hosts)."""
    try:
        added = service.add_redirect(service.find_client(client_id), uri)
    except service.ClientError as error:
        _fail(error)
    if added != uri.strip():
        click.echo(f"allowed GPT {added} on chatgpt.com and chat.openai.com")
    else:
        click.echo(f"allowed {added}")


@clients_cli.command("add-gpt")
@click.argument("client_id")
@click.argument("gpt_ids", nargs=-1, required=True)
def add_gpt(client_id: str, gpt_ids: tuple[str, ...]) -> None:
    """Allow the callback URLs of these GPTs (g-...) on both ChatGPT hosts."""
    try:
        client = service.find_client(client_id)
        for gpt_id in gpt_ids:
            service.add_gpt(client, gpt_id)
    except service.ClientError as error:
        _fail(error)
    for gpt_id in gpt_ids:
        click.echo(f"allowed GPT {gpt_id.strip()} on chatgpt.com and chat.openai.com")


@clients_cli.command("remove-redirect")
@click.argument("client_id")
@click.argument("uri_or_gpt_id")
def remove_redirect(client_id: str, uri_or_gpt_id: str) -> None:
    """Stop allowing a redirect URI or GPT id."""
    try:
        service.remove_redirect(service.find_client(client_id), uri_or_gpt_id)
    except service.ClientError as error:
        _fail(error)
    click.echo(f"removed {uri_or_gpt_id}")


@clients_cli.command("rotate-secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
def rotate_secret(client_id: str, as_json: bool) -> None:
    """Issue a new client secret; the old one stops working at once."""
    try:
        secret = service.rotate_secret(service.find_client(client_id))
    except service.ClientError as error:
        _fail(error)
    if as_json:
        click.echo(json.dumps({"client_id": client_id, "client_secret": secret}))
    else:
        click.echo(f"client_secret: {secret}")
        click.echo("  (shown once: update the GPT's OAuth settings now)")


@clients_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_clients(as_json: bool) -> None:
    """List clients and what each allows."""
    found = service.list_clients()
    if as_json:
        click.echo(json.dumps([service.describe(c) for c in found]))
        return
    if not found:
        click.echo(f"no clients yet: {flask_command('clients', 'create', '--name', 'My GPT')}")
    for n, client in enumerate(found):
        if n:
            click.echo("")
        _show(client)


@clients_cli.command("prune")
def prune() -> None:
    """Delete self-registered clients no one uses (also done whenever a client registers)."""
    from app.oauth.registration import prune_unused_clients

    click.echo(f"deleted {prune_unused_clients()} unused self-registered client(s)")


@clients_cli.command("delete")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(client_id: str, yes: bool) -> None:
    """Delete a client; every token it holds stops working."""
    try:
        client = service.find_client(client_id)
    except service.ClientError as error:
        _fail(error)
    if not yes:
        click.confirm(f"Delete {client.name} ({client_id}) and end all its sign-ins?", abort=True)
    service.delete_client(client)
    click.echo(f"deleted {client_id}")
