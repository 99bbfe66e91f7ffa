"""Settings come from the environment, have the documented defaults, and a production app
refuses to start on a setting that would make it unsafe or unreachable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import create_app
from app.config import INSTANCE_DIR, KNOWN_DEFAULT_SECRETS, ConfigError, load_config, project
from tests.conftest import build_app

GOOD_SECRET = "kM3v9QxTq1Zr8pWc5Ls2Nd7Hy4Gb6Jf0"
PRODUCTION = {"SECRET_KEY": GOOD_SECRET, "PUBLIC_URL": "https://todo.example.com"}


def _refusal(environ: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(environ)
    message = str(caught.value)
    assert message.strip() and "\n" not in message
    return message


def test_defaults():
    config = load_config({"APP_ENV": "development"})

    assert (
        config["SQLALCHEMY_DATABASE_URI"]
        == f"sqlite:///{INSTANCE_DIR / (project().name + '.sqlite3')}"
    )
    assert config["ACTION_AUTH"] == "oauth"
    assert config["MAX_CONTENT_LENGTH"] == 256 * 1024
    assert config["OPERATOR_NAME"] == "The operator of this service"
    assert config["CONTACT_EMAIL"] == "privacy@example.com"
    assert config["DATA_RETENTION_DAYS"] == 30
    assert config["PUBLIC_URL"] == "http://127.0.0.1:8000"


def test_app_env_defaults_to_production():
    assert load_config(PRODUCTION)["APP_ENV"] == "production"
    assert "SECRET_KEY" in _refusal({})


def test_empty_variables_count_as_unset():
    config = load_config({"APP_ENV": "development", "ACTION_AUTH": "", "MAX_CONTENT_LENGTH": ""})

    assert (config["ACTION_AUTH"], config["MAX_CONTENT_LENGTH"]) == ("oauth", 262144)


def test_settings_are_read():
    config = load_config(
        {
            **PRODUCTION,
            "APP_ENV": "testing",
            "DATABASE_URL": "sqlite:////srv/data/todo.sqlite3",
            "ACTION_AUTH": "APIKey",
            "MAX_CONTENT_LENGTH": "4096",
            "OPERATOR_NAME": "Ada Lovelace Ltd",
            "CONTACT_EMAIL": "ada@example.org",
            "DATA_RETENTION_DAYS": "7",
        }
    )

    assert config["APP_ENV"] == "testing"
    assert config["SECRET_KEY"] == GOOD_SECRET
    assert config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////srv/data/todo.sqlite3"
    assert config["ACTION_AUTH"] == "apikey"
    assert config["MAX_CONTENT_LENGTH"] == 4096
    assert config["OPERATOR_NAME"] == "Ada Lovelace Ltd"
    assert config["CONTACT_EMAIL"] == "ada@example.org"
    assert config["DATA_RETENTION_DAYS"] == 7


@pytest.mark.parametrize(
    ("url", "uri"),
    [
        ("postgres://u:p@db:5432/todo", "postgresql+psycopg://u:p@db:5432/todo"),
        (
            "postgresql://u:p@db/todo?sslmode=require",
            "postgresql+psycopg://u:p@db/todo?sslmode=require",
        ),
        ("postgresql+psycopg://u@db/todo", "postgresql+psycopg://u@db/todo"),
        ("sqlite:////var/lib/todo.sqlite3", "sqlite:////var/lib/todo.sqlite3"),
    ],
)
def test_database_url_is_mapped_to_the_installed_driver(url, uri):
    config = load_config({"APP_ENV": "development", "DATABASE_URL": url})

    assert config["SQLALCHEMY_DATABASE_URI"] == uri


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        ("https://todo.example.com/", "https://todo.example.com"),
        ("https://TODO.Example.com", "https://todo.example.com"),
        ("https://example.com/todo/", "https://example.com/todo"),
    ],
)
def test_public_url_is_normalised(public_url, expected):
    assert load_config({**PRODUCTION, "PUBLIC_URL": public_url})["PUBLIC_URL"] == expected


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"PUBLIC_URL": "https://todo.example.com"}, "SECRET_KEY"),
        ({**PRODUCTION, "SECRET_KEY": "short-key"}, "SECRET_KEY"),
        ({**PRODUCTION, "SECRET_KEY": "  ChangeMe "}, "SECRET_KEY"),
        ({"SECRET_KEY": GOOD_SECRET}, "PUBLIC_URL"),
        ({**PRODUCTION, "PUBLIC_URL": "http://todo.example.com"}, "PUBLIC_URL"),
        ({**PRODUCTION, "PUBLIC_URL": "todo.example.com"}, "PUBLIC_URL"),
        ({**PRODUCTION, "PUBLIC_URL": "https://"}, "PUBLIC_URL"),
        ({**PRODUCTION, "PUBLIC_URL": "https://todo.example.com/?x=1"}, "PUBLIC_URL"),
    ],
    ids=[
        "no secret",
        "short secret",
        "default secret",
        "no public url",
        "http public url",
        "no scheme",
        "no host",
        "query",
    ],
)
def test_production_refuses_to_start_with_a_one_line_reason(environ, names):
    assert names in _refusal(environ)


@pytest.mark.parametrize("secret", sorted(KNOWN_DEFAULT_SECRETS))
def test_production_refuses_every_known_default_secret(secret):
    assert "SECRET_KEY" in _refusal({**PRODUCTION, "SECRET_KEY": secret})


def test_development_runs_without_secret_or_https():
    config = load_config({"APP_ENV": "development", "PUBLIC_URL": "http://localhost:5000"})

    assert config["SECRET_KEY"]
    assert config["PUBLIC_URL"] == "http://localhost:5000"
    assert config["SESSION_COOKIE_SECURE"] is False


def test_log_ins_last_an_hour_idle_and_a_day_at_most_by_default():
    config = load_config({"APP_ENV": "development"})

    assert (config["SESSION_IDLE_MINUTES"], config["SESSION_MAX_DAYS"]) == (60, 1)
    assert config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=1)


def test_production_cookies_are_secure():
    assert load_config(PRODUCTION)["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APP_ENV", "staging"),
        ("ACTION_AUTH", "basic"),
        ("API_KEY_AUTH_TYPE", "token"),
        ("API_KEY_HEADER", "X API Key"),
        ("MAX_CONTENT_LENGTH", "lots"),
        ("MAX_CONTENT_LENGTH", "10"),
        ("DATA_RETENTION_DAYS", "-1"),
        ("DATA_RETENTION_DAYS", "30 days"),
        ("SESSION_IDLE_MINUTES", "4"),
        ("SESSION_IDLE_MINUTES", "1h"),
        ("SESSION_MAX_DAYS", "0"),
        ("DATABASE_TIMEOUT", "0"),
        ("DATABASE_TIMEOUT", "5s"),
        ("DATABASE_TIMEOUT", "60"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name, value):
    assert name in _refusal({"APP_ENV": "development", name: value})


def test_create_app_refuses_a_bad_production_environment(monkeypatch):
    for name in ("APP_ENV", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PUBLIC_URL", "https://todo.example.com")

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_create_app_reads_the_environment(monkeypatch, database_url):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("PUBLIC_URL", "https://todo.example.com")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("OPERATOR_NAME", "Env Operator")

    app = create_app()

    assert app.config["APP_ENV"] == "production"
    assert app.config["OPERATOR_NAME"] == "Env Operator"
    assert app.config["PUBLIC_URL"] == "https://todo.example.com"


def test_settings_given_to_create_app_ignore_the_environment(monkeypatch, database_url):
    monkeypatch.setenv("ACTION_AUTH", "not-a-mode")
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)

    app = build_app(database_url, ACTION_AUTH="none")

    assert (app.config["APP_ENV"], app.config["ACTION_AUTH"]) == ("testing", "none")
