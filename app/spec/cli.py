"""`flask spec export`, and `flask spec lint`: gpt_action_lint run on the spec this app serves."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app

from app.cli import AppGroup
from app.config import project
from app.spec import app_spec, to_yaml

spec_cli = AppGroup("spec", help="Export or lint the GPT action spec.")

CANONICAL_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml"
CANONICAL_SETTINGS = {"ACTION_AUTH": "oauth", "PUBLIC_URL": f"https://{project().name}.example.com"}


def dump(doc: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return to_yaml(doc)


@spec_cli.command("export")
@click.option(
    "-o",
    "--output",
    default=str(CANONICAL_PATH),
    show_default="openapi/openapi.yaml",
    help="File to write, or - for standard output.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json"]),
    default=None,
    help="Default: from the file name, else yaml.",
)
@click.option(
    "--auth",
    type=click.Choice(["oauth", "apikey", "none"]),
    default=CANONICAL_SETTINGS["ACTION_AUTH"],
    show_default=True,
)
@click.option("--public-url", default=CANONICAL_SETTINGS["PUBLIC_URL"], show_default=True)
@click.option(
    "--current",
    is_flag=True,
    help="Export exactly what this app serves with its own settings instead.",
)
def export(output: str, fmt: str | None, auth: str, public_url: str, current: bool) -> None:
    """Write the spec; by default the checked-in copy, openapi/openapi.yaml."""
    doc = (
        app_spec(current_app)
        if current
        else app_spec(current_app, ACTION_AUTH=auth, PUBLIC_URL=public_url.rstrip("/"))
    )
    fmt = fmt or ("json" if output.endswith(".json") else "yaml")
    text = dump(doc, fmt)
    if output == "-":
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")


@spec_cli.command("lint")
@click.argument("source", required=False, metavar="[FILE_OR_URL]")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def lint_command(source: str | None, strict: bool) -> None:
    """Check an OpenAPI document against ChatGPT's GPT action rules.

    FILE_OR_URL is a JSON or YAML file, - for standard input, or an http(s) URL; by default,
    the spec this app serves. Exits with 1 when there are errors (or, with --strict, warnings).
    """
    # Imported here, not with the app: the linter and its validators weigh about 40 MB, which a
    # worker serving requests never needs.
    from gpt_action_lint import lint
    from gpt_action_lint.cli import lint_source, report

    report(lint(app_spec(current_app)) if source is None else lint_source(source), strict)
