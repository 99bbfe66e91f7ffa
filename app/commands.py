"""`flask --app app ops list|run`: the declared operations from the command line, the runner's
third transport beside the REST API (app/rest.py) and the MCP endpoint (app/mcp).

Like them, it reads its input into a caller and raw arguments and hands both to `run`
(app/operations.py): the caller is the account an operator names, with every scope, and the
arguments are one JSON object, as an MCP tool takes them (path parameters included). The
answer is printed as JSON; a refusal is one line and exit status 1.

    flask --app app ops run getTodos ada@example.com '{"status": "all"}'
"""

from __future__ import annotations

import json

import click

from app.cli import AppGroup
from app.credentials import API, Caller
from app.operations import run
from app.refusals import Refusal
from app.resources import all_operations
from app.users import UnknownUser, get_user

# A terminal has no 100,000-character limit; a list still pages by its limit.
DATA_CHARS = 10_000_000

ops_cli = AppGroup("ops", help="List the API's operations, or run one as an account.")


@ops_cli.command("list")
def list_operations() -> None:
    """List every operation: its operationId, method and path, and the scopes it needs."""
    for _, operation in all_operations():
        scopes = " ".join(operation.scopes) or "(public)"
        click.echo(f"{operation.operation_id}\t{operation.method} {operation.path}\t{scopes}")


@ops_cli.command("run")
@click.argument("operation_id")
@click.argument("email")
@click.argument("arguments", default="{}")
def run_operation(operation_id: str, email: str, arguments: str) -> None:
    """Run OPERATION_ID as the account EMAIL, with ARGUMENTS, a JSON object (default {}), and
    print its answer. What it changes is committed, as for a call over HTTP."""
    found = {op.operation_id: op for _, op in all_operations()}
    if operation_id not in found:
        raise click.ClickException(f"No operation {operation_id}; see `ops list`.")
    try:
        raw = json.loads(arguments)
    except ValueError:
        raise click.ClickException("ARGUMENTS must be a JSON object.") from None
    if not isinstance(raw, dict):
        raise click.ClickException("ARGUMENTS must be a JSON object.")
    try:
        user = get_user(email)
    except UnknownUser as error:
        raise click.ClickException(str(error)) from None
    caller = Caller(user, None, f"cli:{user.id}", API)
    try:
        answer = run(found[operation_id], caller, raw, data_chars=DATA_CHARS)
    except Refusal as refusal:
        raise click.ClickException(f"{refusal.status}: {refusal.message}") from None
    if answer.data is not None:
        click.echo(json.dumps(answer.data, indent=2, ensure_ascii=False))
