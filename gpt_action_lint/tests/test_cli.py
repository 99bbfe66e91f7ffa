"""`gpt-action-lint` on files, standard input and URLs, installed and with no app around it."""

from __future__ import annotations

import functools
import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from gpt_action_lint import load
from gpt_action_lint.cli import main
from gpt_action_lint.load import MAX_DOWNLOAD_BYTES
from gpt_action_lint.tests.helpers import GOOD, found, good


def lint_cli(*args: str, **kwargs: Any) -> Result:
    return CliRunner().invoke(main, args, **kwargs)


def test_lints_a_json_file_and_a_yaml_file(tmp_path):
    as_json = tmp_path / "spec.json"
    as_json.write_text(json.dumps(good()), encoding="utf-8")
    for source in (as_json, GOOD):
        result = lint_cli("--strict", str(source))
        assert result.exit_code == 0, result.output
        assert result.output == "0 errors, 0 warnings\n"


def test_yaml_is_recognised_by_content_not_name(tmp_path):
    source = tmp_path / "spec.json"
    source.write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    result = lint_cli(str(source))
    assert result.exit_code == 0, result.output


def test_reads_standard_input():
    result = lint_cli("-", input=GOOD.read_text(encoding="utf-8"))
    assert result.exit_code == 0, result.output
    assert result.output == "0 errors, 0 warnings\n"


def test_warnings_fail_only_with_strict(tmp_path):
    doc = good()
    del doc["paths"]["/notes"]["get"]["x-openai-isConsequential"]
    source = tmp_path / "spec.yaml"
    source.write_text(yaml.safe_dump(doc), encoding="utf-8")
    line = (
        "$.paths['/notes'].get: x-openai-isConsequential is not set, so ChatGPT applies its "
        "default for GET (false); set it explicitly [consequential-missing, OpenAI docs]"
    )

    relaxed = lint_cli(str(source))
    assert relaxed.exit_code == 0
    assert relaxed.output == f"warning: {line}\n0 errors, 1 warning\n"

    strict = lint_cli(str(source), "--strict")
    assert strict.exit_code == 1
    assert strict.output == f"error: {line}\n1 error, 0 warnings\n"


def test_errors_fail_without_strict(tmp_path):
    doc = good()
    doc["servers"] = [{"url": "http://notes.example.com"}]
    source = tmp_path / "spec.yaml"
    source.write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = lint_cli(str(source))
    assert result.exit_code == 1
    assert result.output.startswith("error: $.servers[0].url: server url ")
    assert result.output.endswith("1 error, 0 warnings\n")


def test_a_3_0_spec_without_servers_fails_only_strict_and_names_the_rules(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps({"openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "paths": {}})
    )
    relaxed = lint_cli(str(spec))
    strict = lint_cli(str(spec), "--strict")
    assert relaxed.exit_code == 0  # only builder-report rules: warnings
    assert strict.exit_code == 1
    assert "[openapi-version" in strict.output and "[servers" in strict.output


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "input-unreadable"),
        (b"openapi: [3.1.0\npaths: {", "input-unparseable"),
        (b'{"openapi": "3.1.0", "paths": {', "input-unparseable"),
        (b"", "input-unparseable"),
        (b"- just\n- a list\n", "openapi-document"),
    ],
    ids=["binary", "bad-yaml", "bad-json", "empty", "list"],
)
def test_garbage_files_are_reported_without_a_traceback(tmp_path, content, rule):
    source = tmp_path / "garbage.yaml"
    source.write_bytes(content)
    result = lint_cli(str(source))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    first, last = result.output.splitlines()
    assert first.startswith("error: $: ")
    assert f"[{rule}, " in first
    assert last == "1 error, 0 warnings"


def test_a_file_over_the_size_limit_is_reported(tmp_path):
    source = tmp_path / "huge.yaml"
    source.write_bytes(b"#" * (MAX_DOWNLOAD_BYTES + 1))
    result = lint_cli(str(source))
    assert result.exit_code == 1
    assert result.output == (
        f"error: $: {source} is larger than {MAX_DOWNLOAD_BYTES} bytes [input-unreadable, input]\n"
        "1 error, 0 warnings\n"
    )


def test_a_missing_file_is_reported(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = lint_cli(str(missing))
    assert result.exit_code == 1
    assert result.output == (
        f"error: $: cannot read {missing}: No such file or directory [input-unreadable, input]\n"
        "1 error, 0 warnings\n"
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def spec_server(tmp_path) -> Iterator[str]:
    """A real HTTP server on a free loopback port, serving tmp_path."""
    (tmp_path / "good.yaml").write_bytes(GOOD.read_bytes())
    bad = good()
    del bad["paths"]["/notes"]["get"]["x-openai-isConsequential"]
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_lints_a_url(spec_server):
    result = lint_cli("--strict", f"{spec_server}/good.yaml")
    assert result.exit_code == 0, result.output
    assert result.output == "0 errors, 0 warnings\n"

    result = lint_cli(f"{spec_server}/bad.json")
    assert result.exit_code == 0
    assert "[consequential-missing, OpenAI docs]" in result.output
    assert lint_cli("--strict", f"{spec_server}/bad.json").exit_code == 1


def test_an_http_error_is_reported(spec_server):
    result = lint_cli(f"{spec_server}/missing.yaml")
    assert result.exit_code == 1
    assert result.output == (
        f"error: $: {spec_server}/missing.yaml answered HTTP 404 File not found "
        "[input-unreadable, input]\n1 error, 0 warnings\n"
    )


def test_an_unreachable_url_is_reported():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    document, problems = load(f"http://127.0.0.1:{port}/openapi.json", timeout=5)
    assert document is None
    assert found(problems) == {("input-unreadable", "error", "$")}
    assert f"cannot fetch http://127.0.0.1:{port}/openapi.json: " in problems[0].message


# --- installed, and apart from the app ---------------------------------------------------------


def test_the_installed_command_runs_without_any_configuration(tmp_path):
    command = shutil.which("gpt-action-lint", path=str(Path(sys.executable).parent))
    assert command, "gpt-action-lint is not installed: pip install -e ."
    result = subprocess.run(
        [command, str(GOOD), "--strict"],
        env={"PATH": "/usr/bin:/bin"},  # no APP_ENV, SECRET_KEY or PUBLIC_URL
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "0 errors, 0 warnings\n"


def test_linting_imports_neither_the_app_nor_flask():
    code = (
        "import sys; from gpt_action_lint.cli import lint_source; lint_source(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('app', 'flask')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(GOOD)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == "[]\n"
