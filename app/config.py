"""Every setting the app reads, parsed and checked in one place.

`load_config` turns an environment-like mapping (``os.environ`` in production, a plain dict in
tests) into Flask config. Nothing else in the app reads the environment, so a test can build an
app with any settings and an import never fails for a missing variable.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from importlib.metadata import packages_distributions, version
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import click
from flask.cli import NoAppException

APP_ENVS = ("production", "development", "testing")
AUTH_MODES = ("oauth", "apikey", "none")
API_KEY_AUTH_TYPES = ("bearer", "basic", "custom")
# Which clients may register themselves (app/oauth/registration.py).
CLIENT_REGISTRATION_MODES = ("chatgpt", "open", "off")

# Values copied from examples and tutorials; a deployment that still has one is not secret.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "changethis",
        "dev",
        "development",
        "secret",
        "secret-key",
        "secret_key",
        "your-secret-key",
        "replace-me",
        "not-a-secret-development-only",
    }
)
DEV_SECRET_KEY = "not-a-secret-development-only"
# A session's last page load is written at most once a minute (app/accounts/session.py), so
# it may end up to a minute early: shorter idle times would be mostly that error.
SESSION_IDLE_MINUTES_MIN = 5

# A call can wait twice over (a pooled connection gone silent, then a new one) and should still
# answer within the 30 seconds Heroku's router waits for it.
MAX_DATABASE_TIMEOUT = 12

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = REPO_ROOT / "instance"


class Project(NamedTuple):
    name: str
    version: str
    title: str


@functools.cache
def project() -> Project:
    """This project's name, version and title as pyproject.toml declares them (for an install
    without its sources, its package metadata, where the name stands for the title).

    The name is what the app goes by in its CLI, its cookies, its MCP server, its realm and its
    files; the title (`[tool.app] title`) is the default of APP_TITLE, the name people see.
    Renaming the project is changing them there (`make rename`).
    """
    path = REPO_ROOT / "pyproject.toml"
    if path.is_file():
        with path.open("rb") as file:
            declared = tomllib.load(file)
        name = declared["project"]["name"]
        title = declared.get("tool", {}).get("app", {}).get("title", name)
        return Project(name, declared["project"]["version"], title)
    name = packages_distributions()["app"][0]
    return Project(name, version(name), name)


def slug() -> str:
    """The project's name as an identifier (cookie names): todo-action is todo_action."""
    return re.sub(r"\W+", "_", project().name).strip("_")


# (environment variable, default, description): the README table and .env.example list these.
SETTINGS: tuple[tuple[str, str | None, str], ...] = (
    ("APP_ENV", "production", "production | development | testing"),
    (
        "APP_TITLE",
        None,
        "The name people see: page titles, the spec's title, the MCP server's title. "
        "Default: the title in pyproject.toml",
    ),
    ("DATABASE_URL", None, "SQLAlchemy URL; postgres:// is accepted. Default: instance/ SQLite"),
    (
        "DATABASE_TIMEOUT",
        "5",
        "Seconds a call waits on the database (connecting, a lock, a statement) before a 503",
    ),
    ("PUBLIC_URL", None, "The https origin the GPT calls, e.g. https://todo.example.com"),
    ("SECRET_KEY", None, "Signs sessions and CSRF tokens; required in production"),
    ("ACTION_AUTH", "oauth", "oauth | apikey | none: the auth the published spec declares"),
    ("API_KEY_AUTH_TYPE", "bearer", "bearer | basic | custom: the editor's API key sub-type"),
    ("API_KEY_HEADER", "X-API-Key", "Header name for the custom API key sub-type"),
    ("API_RATE_LIMIT", "600 per minute", "Per-credential API limit, or 'off'"),
    ("TOKEN_RATE_LIMIT", "600 per minute", "Token endpoint limit per OAuth client, or 'off'"),
    ("REDIS_URL", None, "Rate-limit storage shared by all workers (memory if unset)"),
    (
        "CLIENT_REGISTRATION",
        "chatgpt",
        "chatgpt | open | off: which MCP clients may register themselves (RFC 7591, metadata "
        "documents): ChatGPT's, any with https callbacks, or none",
    ),
    (
        "CLIENT_METADATA_TRUSTED_ORIGINS",
        "",
        "Space-separated https origins whose client metadata documents may be on private addresses",
    ),
    ("SIGNUP_OPEN", "true", "Whether anyone may create an account"),
    ("SESSION_IDLE_MINUTES", "60", "Minutes without a page load that end a log-in (min. 5)"),
    ("SESSION_MAX_DAYS", "1", "Days after which a log-in ends, in use or not"),
    ("MAX_CONTENT_LENGTH", "262144", "Largest request body in bytes"),
    ("TRUSTED_PROXY_HOPS", "1", "Proxies in front of the app whose X-Forwarded-For/Proto to trust"),
    ("OPERATOR_NAME", "The operator of this service", "Shown on the privacy page"),
    ("CONTACT_EMAIL", "privacy@example.com", "Shown on the privacy page"),
    ("DATA_RETENTION_DAYS", "30", "Days request logs are kept, shown on the privacy page"),
)


class SetupError(NoAppException):
    """What the operator must fix before the app can work, said in one line.

    Flask's NoAppException, a ClickException: `flask --app app ...`, whose loading calls
    create_app, prints the line and exits 1 where any other exception would be a traceback,
    and `flask --app app --help` prints it above the commands instead of a traceback.
    gunicorn's on_starting prints the same line.
    """

    # NoAppException is a usage error (2); a setting to fix is not a mistyped command.
    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(f"{project().name}: {self.format_message()}", file=file, err=file is None)


class ConfigError(SetupError, ValueError):
    """A setting is missing or wrong; the message is one line meant for the operator."""


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _int(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {number}")
    return number


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    lowered = value.strip().lower()
    if lowered not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return lowered


def _rate_limit(name: str, value: str) -> str | None:
    """A Flask-Limiter limit string ("600 per minute"), or None for off."""
    from limits import parse_many

    value = value.strip()
    if value.lower() in {"off", "none", "0"}:
        return None
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must be like '600 per minute' or 'off', not {value!r}") from None
    return value


def database_uri(url: str | None) -> str:
    """Map a PaaS DATABASE_URL onto the driver this project installs (psycopg 3)."""
    if not url:
        return f"sqlite:///{INSTANCE_DIR / (project().name + '.sqlite3')}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def public_url(environ: Mapping[str, str]) -> str | None:
    """The origin the GPT calls: PUBLIC_URL, else what the PaaS says about itself."""
    if environ.get("PUBLIC_URL"):
        return environ["PUBLIC_URL"].rstrip("/")
    if environ.get("RENDER_EXTERNAL_URL"):
        return environ["RENDER_EXTERNAL_URL"].rstrip("/")
    if environ.get("RAILWAY_PUBLIC_DOMAIN"):
        return "https://" + environ["RAILWAY_PUBLIC_DOMAIN"]
    if environ.get("FLY_APP_NAME"):
        return f"https://{environ['FLY_APP_NAME']}.fly.dev"
    return None


def _check_public_url(url: str, *, require_https: bool) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"PUBLIC_URL must be an absolute URL like https://host, not {url!r}")
    if require_https and parts.scheme != "https":
        raise ConfigError(f"PUBLIC_URL must use https in production, not {url!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"PUBLIC_URL must not have a query or fragment: {url!r}")
    # ChatGPT compares the server against a lower-case root origin.
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _check_trusted_origin(origin: str) -> str:
    """An https origin as the metadata fetcher compares them: host in lower case, no :443."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        parts = port = None
    if (
        parts is None
        or parts.scheme != "https"
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ConfigError(
            "CLIENT_METADATA_TRUSTED_ORIGINS holds https origins like https://mcp.intranet.example"
            f" or https://10.0.0.5:8443, not {origin!r}"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"https://{host}" + (f":{port}" if port not in (None, 443) else "")


def load_config(environ: Mapping[str, str]) -> dict[str, Any]:
    """Parse settings from an environment-like mapping; raise ConfigError on a bad one."""

    def get(name: str) -> str | None:
        for setting, default, _ in SETTINGS:
            if setting == name:
                value = environ.get(name)
                return default if value is None or value == "" else value
        raise KeyError(name)

    app_env = _choice("APP_ENV", get("APP_ENV") or "production", APP_ENVS)
    production = app_env == "production"

    secret_key = get("SECRET_KEY")
    if production:
        if not secret_key or secret_key.strip().lower() in KNOWN_DEFAULT_SECRETS:
            raise ConfigError(
                "SECRET_KEY is missing or a known default; set it to a long random value, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if len(secret_key) < 16:
            raise ConfigError("SECRET_KEY is too short; use at least 32 random characters")
    elif not secret_key:
        secret_key = DEV_SECRET_KEY

    url = public_url(environ)
    if url is None:
        if production:
            raise ConfigError("PUBLIC_URL is missing; set it to the https origin the GPT calls")
        url = f"http://127.0.0.1:{environ.get('PORT') or 8000}"
    url = _check_public_url(url, require_https=production)

    db_uri = database_uri(get("DATABASE_URL"))
    database_timeout = _int("DATABASE_TIMEOUT", get("DATABASE_TIMEOUT") or "", 1)
    if database_timeout > MAX_DATABASE_TIMEOUT:
        raise ConfigError(
            f"DATABASE_TIMEOUT must be at most {MAX_DATABASE_TIMEOUT} seconds, so that a call "
            f"gets its 503 before a router gives up on it, not {database_timeout}"
        )
    redis_url = get("REDIS_URL")
    rate_limit = _rate_limit("API_RATE_LIMIT", get("API_RATE_LIMIT") or "")
    token_rate_limit = _rate_limit("TOKEN_RATE_LIMIT", get("TOKEN_RATE_LIMIT") or "")
    session_max_days = _int("SESSION_MAX_DAYS", get("SESSION_MAX_DAYS") or "", 1)
    api_key_header = (get("API_KEY_HEADER") or "").strip()
    if not api_key_header or not all(c.isalnum() or c == "-" for c in api_key_header):
        raise ConfigError(f"API_KEY_HEADER must be a header name, not {api_key_header!r}")

    trusted_origins = [
        _check_trusted_origin(origin)
        for origin in (get("CLIENT_METADATA_TRUSTED_ORIGINS") or "").split()
    ]

    name, package_version, title = project()
    return {
        "APP_ENV": app_env,
        "APP_NAME": name,
        "APP_VERSION": package_version,
        "APP_TITLE": (get("APP_TITLE") or "").strip() or title,
        "DEBUG": False,
        "TESTING": app_env == "testing",
        "SECRET_KEY": secret_key,
        "PUBLIC_URL": url,
        # External URLs (OAuth redirects, links in pages) name this host whatever Host or
        # X-Forwarded-Host a request carries; a client can forge those behind most proxies.
        "SERVER_NAME": urlsplit(url).netloc,
        "PREFERRED_URL_SCHEME": urlsplit(url).scheme,
        "SQLALCHEMY_DATABASE_URI": db_uri,
        # SQLALCHEMY_ENGINE_OPTIONS follow from it (app/extensions.py).
        "DATABASE_TIMEOUT": database_timeout,
        "ACTION_AUTH": _choice("ACTION_AUTH", get("ACTION_AUTH") or "", AUTH_MODES),
        "API_KEY_AUTH_TYPE": _choice(
            "API_KEY_AUTH_TYPE", get("API_KEY_AUTH_TYPE") or "", API_KEY_AUTH_TYPES
        ),
        "API_KEY_HEADER": api_key_header,
        "API_RATE_LIMIT": rate_limit,
        "TOKEN_RATE_LIMIT": token_rate_limit,
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "CLIENT_REGISTRATION": _choice(
            "CLIENT_REGISTRATION", get("CLIENT_REGISTRATION") or "", CLIENT_REGISTRATION_MODES
        ),
        "CLIENT_METADATA_TRUSTED_ORIGINS": tuple(trusted_origins),
        "SIGNUP_OPEN": _bool("SIGNUP_OPEN", get("SIGNUP_OPEN") or ""),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", get("MAX_CONTENT_LENGTH") or "", 1024),
        "TRUSTED_PROXY_HOPS": _int("TRUSTED_PROXY_HOPS", get("TRUSTED_PROXY_HOPS") or "", 0),
        "OPERATOR_NAME": get("OPERATOR_NAME"),
        "CONTACT_EMAIL": get("CONTACT_EMAIL"),
        "DATA_RETENTION_DAYS": _int("DATA_RETENTION_DAYS", get("DATA_RETENTION_DAYS") or "", 0),
        "SESSION_IDLE_MINUTES": _int(
            "SESSION_IDLE_MINUTES", get("SESSION_IDLE_MINUTES") or "", SESSION_IDLE_MINUTES_MIN
        ),
        "SESSION_MAX_DAYS": session_max_days,
        # The browser drops the cookie when the server ends the session at the latest.
        "PERMANENT_SESSION_LIFETIME": timedelta(days=session_max_days),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_NAME": f"{slug()}_session",
        # CSRF is checked on the forms only (app.extensions.protect_forms), for as long as
        # the session lasts rather than a fixed time.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
    }


def environ_with_overrides(overrides: Mapping[str, Any] | None) -> tuple[Mapping[str, str], dict]:
    """Split a test_config into environment-style settings and raw Flask config overrides."""
    if overrides is None:
        return os.environ, {}
    names = {name for name, _, _ in SETTINGS} | {"PORT", "RENDER_EXTERNAL_URL"}
    env = {k: str(v) for k, v in overrides.items() if k in names and v is not None}
    extra = {k: v for k, v in overrides.items() if k not in names}
    return env, extra


# Who answers for the data, on the privacy page: the defaults name nobody.
PRIVACY_CONTACT_SETTINGS = ("OPERATOR_NAME", "CONTACT_EMAIL")


def privacy_placeholder_warning(config: Mapping[str, Any]) -> str | None:
    """One line naming the privacy page's settings still at their placeholder defaults."""
    defaults = {name: default for name, default, _ in SETTINGS}
    names = [name for name in PRIVACY_CONTACT_SETTINGS if config.get(name) == defaults[name]]
    if not names:
        return None
    listed = " and ".join(names)
    verb = "is a placeholder" if len(names) == 1 else "are placeholders"
    return (
        f"{listed} {verb} on the privacy page (/privacy), which a public GPT links to; "
        f"set {listed} to who runs this service and how to reach them"
    )
