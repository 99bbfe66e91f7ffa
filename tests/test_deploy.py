"""The deploy files agree with the app and with each other.

A typo in a PaaS config only shows on the platform, after a push: a variable the app never
reads, a missing SECRET_KEY, a health check on the wrong path or port, a Dockerfile that starts
something other than the Procfile. These tests read every deploy file and check it against
what the app reads (app.config.SETTINGS) and what each platform provides.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import runpy
import secrets
import shlex
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from app.config import SETTINGS, load_config, project, public_url
from tests.conftest import clean_env

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOY = REPO_ROOT / "deploy"
GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")

# ChatGPT abandons an action call after 45 seconds (fact sheet, section 1).
CHATGPT_TIMEOUT_SECONDS = 45


# --- reading the files ------------------------------------------------------------------------


def procfile() -> dict[str, str]:
    processes = {}
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        current = ""
    return instructions


def dockerfile_args(keyword: str) -> list[str]:
    return [rest for instruction, rest in dockerfile() if instruction == keyword]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for rest in dockerfile_args("ENV"):
        for token in shlex.split(rest):
            name, _, value = token.partition("=")
            env[name] = value
    return env


def render() -> dict:
    return yaml.safe_load((DEPLOY / "render.yaml").read_text())


def render_web() -> dict:
    (web,) = [s for s in render()["services"] if s["type"] == "web"]
    return web


def heroku_app_json() -> dict:
    # Heroku reads app.json at the repository root (Heroku button, review apps); it is kept in
    # deploy/ with the other platform files until it moves there.
    for path in (REPO_ROOT / "app.json", DEPLOY / "app.json"):
        if path.exists():
            return json.loads(path.read_text())
    raise AssertionError("no app.json")


def fly() -> dict:
    return tomllib.loads((DEPLOY / "fly.toml").read_text())


def railway() -> dict:
    return json.loads((DEPLOY / "railway.json").read_text())


def gunicorn_settings(**environ: str) -> dict:
    """Run gunicorn.conf.py as gunicorn does, with exactly `environ` as the environment (and
    no .env file of the developer's)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({"FLASK_SKIP_DOTENV": "1", **environ})
    try:
        return runpy.run_path(str(GUNICORN_CONF))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def gunicorn_conf_reads() -> set[str]:
    source = GUNICORN_CONF.read_text()
    return set(re.findall(r"os\.environ(?:\.get\(|\[)\s*[\"']([A-Z0-9_]+)[\"']", source))


def deploy_doc_section(platform: str) -> str:
    text = (REPO_ROOT / "docs" / "deploy.md").read_text()
    match = re.search(rf"^## {platform}\b.*?(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"docs/deploy.md has no ## {platform} section"
    return match.group(0)


# --- what the app reads -----------------------------------------------------------------------

# The platforms' own names for the app's public URL, which public_url() accepts.
PLATFORM_URL_VARIABLES = {"RENDER_EXTERNAL_URL", "RAILWAY_PUBLIC_DOMAIN", "FLY_APP_NAME"}


def variables_the_app_reads() -> set[str]:
    return {name for name, _, _ in SETTINGS} | {"PORT"} | gunicorn_conf_reads()


def is_interpreter_variable(name: str) -> bool:
    # Read by python and pip in the image (PYTHONUNBUFFERED, PIP_NO_CACHE_DIR), not the app.
    return name.startswith(("PYTHON", "PIP_"))


def test_platform_url_variables_are_ones_public_url_accepts():
    assert public_url({"RENDER_EXTERNAL_URL": "https://x.onrender.com"}) == "https://x.onrender.com"
    assert public_url({"RAILWAY_PUBLIC_DOMAIN": "x.up.railway.app"}) == "https://x.up.railway.app"
    assert public_url({"FLY_APP_NAME": "x"}) == "https://x.fly.dev"


def test_gunicorn_conf_reads_port_and_web_concurrency():
    assert {"PORT", "WEB_CONCURRENCY"} <= gunicorn_conf_reads()


@pytest.mark.parametrize(
    "source, names",
    [
        ("render.yaml", lambda: {v["key"] for v in render_web()["envVars"]}),
        ("app.json", lambda: set(heroku_app_json()["env"])),
        ("fly.toml", lambda: set(fly()["env"])),
        ("Dockerfile", lambda: set(dockerfile_env())),
    ],
)
def test_every_variable_a_deploy_file_sets_is_read_by_the_app(source, names):
    unknown = {n for n in names() if not is_interpreter_variable(n)} - variables_the_app_reads()
    assert not unknown, f"{source} sets variables the app never reads: {sorted(unknown)}"


# --- each platform's environment starts the app in production ------------------------------------


def _generated_secret() -> str:
    return secrets.token_hex(32)


def render_environment() -> dict[str, str]:
    env = {"PORT": "10000", "RENDER_EXTERNAL_URL": "https://todo-action.onrender.com"}
    database_names = {db["name"] for db in render()["databases"]}
    for var in render_web()["envVars"]:
        if "value" in var:
            env[var["key"]] = str(var["value"])
        elif var.get("generateValue"):
            env[var["key"]] = _generated_secret()
        elif "fromDatabase" in var:
            assert var["fromDatabase"]["name"] in database_names
            assert var["fromDatabase"]["property"] == "connectionString"
            env[var["key"]] = "postgresql://u:p@dpg-x/todo_action"
    return env


def heroku_environment() -> dict[str, str]:
    manifest = heroku_app_json()
    env = {"PORT": "5000"}
    for name, spec in manifest["env"].items():
        if isinstance(spec, str):
            env[name] = spec
        elif "value" in spec:
            env[name] = spec["value"]
        elif spec.get("generator") == "secret":
            env[name] = _generated_secret()
        elif spec.get("required", True):
            # The builder fills these in on the creation form.
            env[name] = "https://todo.example.com"
    plans = [a if isinstance(a, str) else a["plan"] for a in manifest["addons"]]
    assert any(p.startswith("heroku-postgresql") for p in plans)
    env["DATABASE_URL"] = "postgres://u:p@ec2-x.compute-1.amazonaws.com:5432/d"
    return env


def test_render_declares_what_production_needs():
    env = render_environment()
    assert {"SECRET_KEY", "DATABASE_URL"} <= set(env)
    config = load_config(env)
    assert config["APP_ENV"] == "production"
    assert config["PUBLIC_URL"] == "https://todo-action.onrender.com"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_heroku_declares_what_production_needs():
    manifest = heroku_app_json()
    assert manifest["env"]["SECRET_KEY"]["generator"] == "secret"
    # Heroku has no variable with the app's URL, so the builder must give it.
    public = manifest["env"]["PUBLIC_URL"]
    assert public["required"] is True and public["description"]
    config = load_config(heroku_environment())
    assert config["APP_ENV"] == "production"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_fly_declares_what_production_needs():
    env = dict(fly()["env"]) | {"FLY_APP_NAME": fly()["app"]}
    # Fly keeps secrets out of fly.toml; docs/deploy.md says how to set them.
    section = deploy_doc_section("Fly")
    for name in ("SECRET_KEY", "DATABASE_URL"):
        assert name in section
    env |= {"SECRET_KEY": _generated_secret(), "DATABASE_URL": "postgres://u:p@x.flycast:5432/d"}
    config = load_config(env)
    assert config["PUBLIC_URL"] == f"https://{fly()['app']}.fly.dev"


@pytest.mark.parametrize("platform", ["Railway", "Docker"])
def test_the_deploy_doc_tells_what_to_set_where_no_file_can(platform):
    section = deploy_doc_section(platform)
    for name in ("SECRET_KEY", "DATABASE_URL", "PUBLIC_URL"):
        assert name in section, f"docs/deploy.md's {platform} section does not mention {name}"


@pytest.mark.parametrize("platform", ["Heroku", "Render", "Fly", "Railway", "Docker"])
def test_the_deploy_doc_explains_each_platform_with_its_health_check(platform):
    assert "/healthz" in deploy_doc_section(platform)


# --- one way to start, one way to migrate, one health check --------------------------------------


def test_every_platform_starts_the_same_gunicorn_command():
    web = shlex.split(procfile()["web"])
    assert web == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"]
    (cmd,) = dockerfile_args("CMD")
    assert json.loads(cmd) == web
    assert shlex.split(render_web()["startCommand"]) == web


def test_every_platform_migrates_before_the_release_goes_live():
    migrate = procfile()["release"]
    assert shlex.split(migrate) == ["flask", "--app", "app", "db", "upgrade"]
    assert render_web()["preDeployCommand"] == migrate
    assert fly()["deploy"]["release_command"] == migrate
    assert railway()["deploy"]["preDeployCommand"] == [migrate]


def test_health_checks_hit_healthz_on_the_port_gunicorn_binds():
    assert render_web()["healthCheckPath"] == "/healthz"
    assert railway()["deploy"]["healthcheckPath"] == "/healthz"

    service = fly()["http_service"]
    assert service["force_https"] is True
    assert int(fly()["env"]["PORT"]) == service["internal_port"] == 8080
    assert [c["path"] for c in service["checks"]] == ["/healthz"]
    bind = gunicorn_settings(PORT=fly()["env"]["PORT"])["bind"]
    assert bind == f"0.0.0.0:{service['internal_port']}"

    (healthcheck,) = dockerfile_args("HEALTHCHECK")
    assert "/healthz" in healthcheck and "${PORT" in healthcheck
    assert dockerfile_args("EXPOSE") == [dockerfile_env()["PORT"]]


def test_railway_and_fly_build_the_dockerfile():
    assert railway()["build"] == {"builder": "DOCKERFILE", "dockerfilePath": "deploy/Dockerfile"}
    # fly resolves the dockerfile relative to fly.toml.
    assert (DEPLOY / fly()["build"]["dockerfile"]) == DEPLOY / "Dockerfile"


def test_docker_image_runs_as_a_non_root_user_from_python_slim():
    assert dockerfile_args("FROM") == ["python:3.11-slim"]
    users = dockerfile_args("USER")
    assert users and users[-1] not in ("root", "0")


def test_dockerignore_keeps_secrets_out_but_lets_the_copied_files_in():
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for must_ignore in (".env", ".git", ".venv", "instance"):
        assert must_ignore in patterns
    for rest in dockerfile_args("COPY"):
        for source in shlex.split(rest)[:-1]:
            assert (REPO_ROOT / source).exists(), source
            assert not any(fnmatch.fnmatch(source, p) for p in patterns), source


# --- gunicorn settings ---------------------------------------------------------------------------


def test_gunicorn_binds_port_and_runs_web_concurrency_workers():
    assert gunicorn_settings()["bind"] == "0.0.0.0:8000"
    assert gunicorn_settings()["workers"] == 2
    settings = gunicorn_settings(PORT="10000", WEB_CONCURRENCY="5")
    assert settings["bind"] == "0.0.0.0:10000"
    assert settings["workers"] == 5


def test_gunicorn_kills_a_stuck_worker_before_chatgpt_gives_up():
    settings = gunicorn_settings()
    assert settings["timeout"] < CHATGPT_TIMEOUT_SECONDS
    assert settings["graceful_timeout"] <= settings["timeout"]
    # Fly must not kill the machine while workers are still finishing their requests.
    assert settings["graceful_timeout"] < int(fly()["kill_timeout"].rstrip("s"))


def test_access_log_carries_ids_but_nothing_that_can_hold_a_secret():
    settings = gunicorn_settings()
    assert settings["accesslog"] == "-"
    log_format = settings["access_log_format"]
    for wanted in ("%({x-request-id}o)s", "%({openai-gpt-id}i)s", "%({openai-conversation-id}i)s"):
        assert wanted in log_format
    # %(r)s is the request line with its query string; %(q)s the query string; %(f)s the
    # referrer (an OAuth redirect URL with a code); %(u)s comes from the Authorization header.
    for leaky in ("%(r)s", "%(q)s", "%(f)s", "%(u)s", "{authorization}i", "{cookie}i"):
        assert leaky not in log_format


# --- gunicorn refuses a bad production configuration ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "settings, reason",
    [
        ({"PUBLIC_URL": "https://todo.example.com"}, "SECRET_KEY is missing"),
        (
            {"PUBLIC_URL": "http://todo.example.com", "SECRET_KEY": secrets.token_urlsafe(32)},
            "PUBLIC_URL must use https",
        ),
    ],
)
def test_gunicorn_refuses_to_start_with_one_line_reason(tmp_path, settings, reason):
    env = {
        **clean_env(),
        "APP_ENV": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **settings,
    }
    result = subprocess.run(
        [GUNICORN, "-c", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{_free_port()}"]
        + ["app:create_app()"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    ours = [line for line in result.stderr.splitlines() if line.startswith(f"{project().name}:")]
    assert len(ours) == 1, result.stderr
    assert reason in ours[0]
    # The reason is the last word: no worker was started to fail again after it.
    assert result.stderr.splitlines()[-1] == ours[0]
    assert "Booting worker" not in result.stderr
