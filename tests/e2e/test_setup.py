"""Setting up a deployment with real gunicorn: what its start-up says, and where it reads
settings from, compared with `flask --app app ...`."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import requests

from app.config import project
from tests.conftest import clean_env
from tests.e2e.conftest import FLASK, GUNICORN, REPO_ROOT, start_server

PLACEHOLDER_WARNING = (
    f"[WARNING] {project().name}: OPERATOR_NAME and CONTACT_EMAIL are placeholders on the privacy "
    "page (/privacy), which a public GPT links to; set OPERATOR_NAME and CONTACT_EMAIL to who "
    "runs this service and how to reach them"
)


def test_production_start_up_warns_once_while_the_privacy_contact_is_a_placeholder(
    gunicorn_server,
):
    placeholders = gunicorn_server()  # two workers, one warning
    named = gunicorn_server(OPERATOR_NAME="Ada Lovelace Ltd", CONTACT_EMAIL="privacy@ada.example")

    warnings = [line for line in placeholders.log().splitlines() if "placeholder" in line]
    assert len(warnings) == 1
    assert warnings[0].endswith(PLACEHOLDER_WARNING)
    assert "placeholder" not in named.log()
    assert "Ada Lovelace Ltd" in named.client.get(f"{named.url}/privacy").text


def test_dotenv_is_read_alike_by_the_cli_and_the_server(e2e_database_url, tmp_path):
    # A checkout's .env, read from the working directory by both: a setting only the file has
    # (SECRET_KEY) counts for both, and for both the environment wins over the file.
    site = tmp_path / "site"
    site.mkdir()
    (site / ".env").write_text(
        "APP_ENV=production\n"
        f"SECRET_KEY={secrets.token_urlsafe(32)}\n"
        "PUBLIC_URL=https://from-dotenv.test\n"
        f"DATABASE_URL={e2e_database_url}\n"
        "WEB_CONCURRENCY=1\n"
    )
    env = {
        **clean_env(),
        "PYTHONUNBUFFERED": "1",
        "PUBLIC_URL": "https://from-environment.test",
    }

    urls = run([FLASK, "--app", "app", "urls"], site, env)
    assert urls.returncode == 0, urls.stderr
    assert "https://from-environment.test/openapi.json" in urls.stdout

    server = start_server(env, tmp_path, "dotenv", cwd=site)
    try:
        spec = requests.get(f"{server.url}/openapi.json", timeout=10).json()
    finally:
        server.stop()
    assert spec["servers"] == [{"url": "https://from-environment.test"}]


def test_flask_skip_dotenv_turns_dotenv_off_for_both(tmp_path):
    (tmp_path / ".env").write_text(
        f"SECRET_KEY={secrets.token_urlsafe(32)}\nPUBLIC_URL=https://from-dotenv.test\n"
    )
    env = {**clean_env(), "FLASK_SKIP_DOTENV": "1"}
    missing = f"{project().name}: SECRET_KEY is missing"

    cli = run([FLASK, "--app", "app", "urls"], tmp_path, env)
    assert cli.returncode == 1
    assert cli.stderr.startswith(missing)
    # on_starting refuses before any worker starts, so this returns at once.
    conf = str(REPO_ROOT / "deploy" / "gunicorn.conf.py")
    server = run([GUNICORN, "-c", conf, "--bind", "127.0.0.1:0", "app:create_app()"], tmp_path, env)
    assert server.returncode == 1
    assert missing in server.stderr
    assert "Traceback" not in cli.stderr + server.stderr


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
