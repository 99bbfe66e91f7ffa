"""`gpt-action-lint FILE_OR_URL [--strict]`, and the reporting `flask spec lint` shares."""

from __future__ import annotations

from collections.abc import Sequence

import click

from gpt_action_lint import Problem, is_error, lint, load, summary


def lint_source(source: str) -> list[Problem]:
    """Problems reading `source` (a file, - or an http(s) URL), else the document's problems."""
    document, problems = load(source)
    return problems if document is None else problems + lint(document)


def report(problems: Sequence[Problem], strict: bool) -> None:
    """Print one line per problem and a summary; exit 1 on any error (any problem if strict)."""
    for problem in problems:
        click.echo(problem.line(strict))
    click.echo(summary(problems, strict))
    if any(is_error(p, strict) for p in problems):
        click.get_current_context().exit(1)


@click.command("gpt-action-lint")
@click.argument("source", metavar="FILE_OR_URL")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def main(source: str, strict: bool) -> None:
    """Check an OpenAPI document against ChatGPT's GPT action rules.

    FILE_OR_URL is a JSON or YAML file, - for standard input, or an http(s) URL. Exits with 1
    when there are errors (or, with --strict, warnings).
    """
    report(lint_source(source), strict)
