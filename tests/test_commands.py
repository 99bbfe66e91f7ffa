"""`flask ops`: the declared operations from the command line, a third adapter over the same
runner as the REST API and the MCP endpoint."""

from __future__ import annotations

import json

from app.resources import all_operations


def test_every_operation_is_listed_with_its_scopes(app, account):
    listed = app.test_cli_runner().invoke(args=["ops", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == sum(1 for _ in all_operations())
    for (_, operation), line in zip(all_operations(), lines, strict=True):
        assert line.startswith(f"{operation.operation_id}\t{operation.method} ")


def test_a_run_does_what_the_api_does_for_that_account(app, account, auth_headers, client):
    cli = app.test_cli_runner()
    added = cli.invoke(args=["ops", "run", "addTodo", "ada@example.com", '{"title": "Buy milk"}'])
    assert added.exit_code == 0, added.output
    todo = json.loads(added.output)

    # Committed, and the same todo the REST API shows.
    assert client.get(f"/todos/{todo['id']}", headers=auth_headers()).json == todo
    changed = cli.invoke(
        args=["ops", "run", "updateTodo", "ada@example.com", json.dumps({"todo_id": todo["id"]})]
    )
    assert changed.exit_code == 1
    assert "422: Invalid input." in changed.output


def test_what_it_cannot_run_is_one_line_and_exit_status_1(app, account):
    cli = app.test_cli_runner()
    cases = {
        ("ops", "run", "dropTables", "ada@example.com"): "No operation dropTables",
        ("ops", "run", "getTodos", "nobody@example.com"): "No account with email",
        ("ops", "run", "getTodos", "ada@example.com", "[1]"): "must be a JSON object",
        ("ops", "run", "getTodos", "ada@example.com", "{nope"): "must be a JSON object",
        ("ops", "run", "getTodo", "ada@example.com", '{"todo_id": 7}'): "404: No todo with id 7.",
    }
    for args, message in cases.items():
        result = cli.invoke(args=list(args))
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output
