"""`gpt-action-lint`: the spec linter for any team's spec, with no app and no settings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from app.spec.cli import standalone_lint

ROOT = Path(__file__).resolve().parent.parent


def test_the_checked_in_spec_passes_strict():
    result = CliRunner().invoke(
        standalone_lint, [str(ROOT / "openapi" / "openapi.yaml"), "--strict"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("0 errors, 0 warnings")


def test_a_3_0_spec_without_servers_fails_strict_and_names_the_rules(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps({"openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "paths": {}})
    )
    relaxed = CliRunner().invoke(standalone_lint, [str(spec)])
    strict = CliRunner().invoke(standalone_lint, [str(spec), "--strict"])
    assert relaxed.exit_code == 0  # only builder-report rules: warnings
    assert strict.exit_code == 1
    assert "[openapi-version" in strict.output and "[servers" in strict.output


def test_the_installed_command_runs_without_any_configuration(tmp_path):
    command = shutil.which("gpt-action-lint", path=str(Path(sys.executable).parent))
    assert command, "gpt-action-lint is not installed: pip install -e ."
    result = subprocess.run(
        [command, str(ROOT / "openapi" / "openapi.yaml"), "--strict"],
        env={"PATH": "/usr/bin:/bin"},  # no APP_ENV, SECRET_KEY or PUBLIC_URL
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
