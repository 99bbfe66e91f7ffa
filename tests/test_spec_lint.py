"""`flask spec lint`: the spec this app serves, and the checked-in copy, pass gpt_action_lint.

The linter's own rules and input handling are tested in gpt_action_lint/tests, without the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from gpt_action_lint.cli import main as gpt_action_lint

CHECKED_IN = Path(__file__).parents[1] / "openapi" / "openapi.yaml"

MODES = [
    pytest.param({"ACTION_AUTH": "oauth"}, id="oauth"),
    pytest.param({"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "bearer"}, id="apikey-bearer"),
    pytest.param({"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "basic"}, id="apikey-basic"),
    pytest.param({"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "custom"}, id="apikey-custom"),
    pytest.param({"ACTION_AUTH": "none"}, id="none"),
]


def lint_cli(app: Flask, *args: str, **kwargs: Any):
    return app.test_cli_runner().invoke(args=["spec", "lint", *args], **kwargs)


@pytest.mark.parametrize("app_settings", MODES)
def test_served_spec_has_no_errors(app):
    result = lint_cli(app)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("0 errors, ")


@pytest.mark.parametrize("app_settings", MODES)
def test_served_spec_passes_strict(app):
    result = lint_cli(app, "--strict")
    assert result.output.splitlines()[-1] == "0 errors, 0 warnings", result.output
    assert result.exit_code == 0


def test_checked_in_spec_passes_strict(app):
    result = lint_cli(app, "--strict", str(CHECKED_IN))
    assert result.exit_code == 0, result.output


def test_checked_in_spec_passes_strict_without_the_app():
    result = CliRunner().invoke(gpt_action_lint, [str(CHECKED_IN), "--strict"])
    assert result.exit_code == 0, result.output
    assert result.output == "0 errors, 0 warnings\n"


def test_spec_lint_reports_a_bad_file_like_gpt_action_lint(app, tmp_path):
    source = tmp_path / "spec.yaml"
    source.write_text("openapi: 3.0.1\ninfo: {title: t, version: '1'}\npaths: {}\n")
    from_app = lint_cli(app, "--strict", str(source))
    standalone = CliRunner().invoke(gpt_action_lint, [str(source), "--strict"])
    assert from_app.exit_code == standalone.exit_code == 1
    assert from_app.output == standalone.output
