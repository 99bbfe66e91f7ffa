"""`flask --app app ...` as an operator runs it, in a process of its own: a bad setting or a
database it cannot use ends a command with one line saying what to fix, never a traceback."""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.config import project
from tests.conftest import TEST_DATABASE_URL, clean_env
from tests.e2e.conftest import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")
# A name on the public internet, so that gpt-setup has nothing to warn about it.
PUBLIC_URL = "https://todo.example.com"
CANNOT_REACH = "cannot reach the database at "
NOT_MIGRATED = "the database is not migrated: run flask --app app db upgrade"
# What `users create --password-stdin` reads.
PASSWORD_LINE = secrets.token_urlsafe(16) + "\n"
NAME = project().name
PLACEHOLDERS = "OPERATOR_NAME and CONTACT_EMAIL are placeholders on the privacy page"


def flask(*args: str, cwd: Path = REPO_ROOT, **settings: str | None) -> subprocess.CompletedProcess:
    """One command with production settings and exactly `settings` over them; nothing from the
    developer's shell or .env."""
    env = {
        **clean_env(),
        "FLASK_SKIP_DOTENV": "1",
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "PUBLIC_URL": PUBLIC_URL,
    }
    env.update(settings)
    env = {name: value for name, value in env.items() if value is not None}
    return subprocess.run(
        [FLASK, "--app", "app", *args],
        cwd=cwd,
        env=env,
        input=PASSWORD_LINE,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(result: subprocess.CompletedProcess) -> str:
    """The one line a failed command printed, after checking that it is all it printed."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{NAME}: "), lines[0]
    return lines[0]


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'empty.sqlite3'}"


# Every command of the README, each under one of the bad settings, so that each setting and
# each command is met once without running all of them against all.
BAD_SETTINGS = {
    "no SECRET_KEY": ({"SECRET_KEY": None}, "SECRET_KEY is missing"),
    "http PUBLIC_URL": ({"PUBLIC_URL": "http://todo.example.com"}, "PUBLIC_URL must use https"),
    "bad ACTION_AUTH": ({"ACTION_AUTH": "oauth2"}, "ACTION_AUTH must be one of"),
}
COMMANDS = [
    ("db", "upgrade"),
    ("users", "create", "ada@example.com", "--password-stdin"),
    ("clients", "list"),
    ("keys", "list"),
    ("spec", "export", "-o", "-", "--current"),
    ("gpt-setup",),
    ("urls",),
    ("routes",),
    ("shell",),
]


@pytest.mark.parametrize(
    ("command", "bad"),
    [(command, list(BAD_SETTINGS)[n % len(BAD_SETTINGS)]) for n, command in enumerate(COMMANDS)],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else value,
)
def test_a_bad_setting_ends_every_command_with_one_line(command, bad, empty_sqlite):
    settings, says = BAD_SETTINGS[bad]
    line = one_line(flask(*command, DATABASE_URL=empty_sqlite, **settings))
    assert says in line


def command_names(help_text: str) -> set[str]:
    listing = help_text.split("Commands:\n", 1)[1]
    return {line.split()[0] for line in listing.splitlines() if line.startswith("  ")}


def test_help_lists_every_command_whatever_the_settings(empty_sqlite):
    good = flask("--help", DATABASE_URL=empty_sqlite)
    assert good.returncode == 0 and good.stderr == "", good.stderr
    commands = command_names(good.stdout)
    assert {"users", "clients", "keys", "gpt-setup", "spec", "ops", "urls", "db"} <= commands

    for settings, says in BAD_SETTINGS.values():
        result = flask("--help", DATABASE_URL=empty_sqlite, **settings)
        assert result.returncode == 0
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("Error: ") and says in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert command_names(result.stdout) == commands


@pytest.mark.parametrize(
    "command",
    [("db", "upgrade"), ("users", "list")],
    ids=" ".join,
)
def test_a_sqlite_file_that_cannot_be_opened_is_named(command, tmp_path):
    url = f"sqlite:///{tmp_path / 'no-such-directory' / 'todo.sqlite3'}"
    line = one_line(flask(*command, DATABASE_URL=url))
    assert line == f"{NAME}: {CANNOT_REACH}{url}: unable to open database file"


@pytest.mark.parametrize("command", [("db", "upgrade"), ("clients", "list")], ids=" ".join)
def test_an_unreachable_postgres_is_named_without_its_password(command):
    password = f"pass-{secrets.token_hex(8)}"
    port = free_port()  # nothing listens on it
    result = flask(*command, DATABASE_URL=f"postgresql://todo:{password}@127.0.0.1:{port}/todo")
    line = one_line(result)
    assert line.startswith(f"{NAME}: {CANNOT_REACH}postgresql://todo:***@127.0.0.1:{port}/todo: ")
    assert "refused" in line
    assert password not in result.stdout + result.stderr


@pytest.fixture
def unmigrated_database_url(empty_sqlite: str) -> Iterator[str]:
    """A reachable database with no tables: an empty SQLite file, or on PostgreSQL an empty
    schema of its own (the test database's public schema stays migrated for other tests)."""
    if not TEST_DATABASE_URL:
        yield empty_sqlite
        return
    schema = f"unmigrated_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(TEST_DATABASE_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield str(
            sa.make_url(TEST_DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        )
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.mark.parametrize(
    "command",
    [
        ("users", "create", "ada@example.com", "--password-stdin"),
        ("clients", "create", "--name", "My GPT"),
        ("keys", "list"),
        ("gpt-setup",),
    ],
    ids=" ".join,
)
def test_an_unmigrated_database_says_to_migrate(command, unmigrated_database_url):
    line = one_line(flask(*command, DATABASE_URL=unmigrated_database_url))
    assert line == f"{NAME}: {NOT_MIGRATED}"


def test_after_the_migration_the_same_command_works(unmigrated_database_url):
    assert flask("db", "upgrade", DATABASE_URL=unmigrated_database_url).returncode == 0
    result = flask("users", "list", DATABASE_URL=unmigrated_database_url)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_gpt_setup_warns_while_the_privacy_contact_is_a_placeholder(database_url):
    result = flask("gpt-setup", "--json", DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"{NAME}: warning: {PLACEHOLDERS} (/privacy), which a public GPT links to; "
        "set OPERATOR_NAME and CONTACT_EMAIL to who runs this service and how to reach them"
    ]
    assert '"mode": "oauth"' in result.stdout  # the JSON on stdout is untouched

    one_set = flask("gpt-setup", DATABASE_URL=database_url, OPERATOR_NAME="Ada Lovelace Ltd")
    assert one_set.stderr.startswith(f"{NAME}: warning: CONTACT_EMAIL is a placeholder")

    both_set = flask(
        "gpt-setup",
        DATABASE_URL=database_url,
        OPERATOR_NAME="Ada Lovelace Ltd",
        CONTACT_EMAIL="privacy@ada.example",
    )
    assert both_set.returncode == 0
    assert both_set.stderr == ""


@pytest.mark.parametrize(
    "command", [("gpt-setup",), ("gpt-setup", "--json"), ("urls",)], ids=" ".join
)
def test_setup_says_when_chatgpt_cannot_reach_public_url(command, database_url):
    development = {"APP_ENV": "development", "PUBLIC_URL": None, "PORT": "8000"}
    contact = {"OPERATOR_NAME": "Ada Lovelace Ltd", "CONTACT_EMAIL": "privacy@ada.example"}
    result = flask(*command, DATABASE_URL=database_url, **development, **contact)
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert "http://127.0.0.1:8000" in said
    if command == ("urls",):
        assert "ChatGPT needs PUBLIC_URL to be a public https URL" in result.stdout
    else:
        assert result.stderr.splitlines() == [
            f"{NAME}: warning: PUBLIC_URL is http://127.0.0.1:8000, which ChatGPT cannot "
            "reach: it calls only https URLs on the public internet, so it would refuse these "
            "values. Deploy the app (docs/deploy.md) and set PUBLIC_URL to its https URL, or, "
            "to try it from this machine, run an https tunnel to it and set PUBLIC_URL to the "
            "tunnel's URL"
        ]

    public = flask(*command, DATABASE_URL=database_url, **contact)
    assert public.returncode == 0, public.stderr
    assert public.stderr == ""
    assert "ChatGPT needs PUBLIC_URL" not in public.stdout
