"""A fresh app and a fresh, migrated database for every test, and who is calling.

SQLite (the default): migrations run once into a template file, which each test copies, so every
test gets its own real SQLite file in its own temp dir. PostgreSQL (TEST_DATABASE_URL set): the
schema is rebuilt and migrated once, and every table is emptied after each test. `make test`
runs the suite in two processes (pytest-xdist, a file to a process): each has a PostgreSQL
database of its own, named after the one given (test_gw0, test_gw1), made on first use.

Besides `app` and pytest-flask's `client` (no credentials): `account` and `user_browser` (Ada,
and Ada logged in), `chatgpt` (a registered client), `auth_headers` (a key or token with given
scopes), `api` (a client carrying Ada's key) and `check_against_spec`. Rows are made with
tests/factories.py, pages driven with tests/browser.py.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import trustme
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

from app import create_app
from app.audience import mcp_resource
from app.extensions import db
from app.models import DEMO_USER_EMAIL, User, utcnow
from tests.browser import log_in
from tests.factories import make_client, make_key, make_token, make_user


def _database_of_this_worker(url: str | None) -> str | None:
    """`url`, or under pytest-xdist a database of this worker's own beside it: the tests empty
    and rebuild the database they use, which two processes must not share."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    given = sa.make_url(url)
    name = f"{given.database}_{worker}"
    server = sa.create_engine(
        given.set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    with server.connect() as conn:
        query = sa.text("SELECT 1 FROM pg_database WHERE datname = :name")
        if conn.scalar(query, {"name": name}) is None:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return given.set(database=name).render_as_string(hide_password=False)


TEST_DATABASE_URL = _database_of_this_worker(os.environ.get("TEST_DATABASE_URL") or None)
# Run first, so that under pytest-xdist the longest file does not start when the rest are done.
LONGEST = ("tests/test_template_doc.py",)
TEST_PUBLIC_URL = "https://todo-action.test"


def clean_env(**settings: str) -> dict[str, str]:
    """The environment of a process a test starts: nothing from the developer's shell or .env
    but the PATH, and PYTHONPATH when this run has one (tests/test_template_doc.py runs the
    suite in a scratch copy that shares this checkout's .venv, and puts its own app first with
    it), then `settings`."""
    env = {"PATH": os.environ.get("PATH", "")}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return {**env, **settings}


def spec_path(rule: str) -> str:
    """An operation's Flask path as the spec writes it: /todos/<int:todo_id> is
    /todos/{todo_id}."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in LONGEST)


def pytest_report_header(config: pytest.Config) -> str:
    if TEST_DATABASE_URL:
        return f"database: PostgreSQL ({sa.make_url(TEST_DATABASE_URL).render_as_string()})"
    return "database: SQLite files (PostgreSQL skipped: TEST_DATABASE_URL is not set)"


def build_app(database_url: str, **settings) -> Flask:
    config = {
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "PUBLIC_URL": TEST_PUBLIC_URL,
        "SECRET_KEY": "test-secret-key-not-for-production",
    }
    config.update(settings)
    return create_app(config)


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    if TEST_DATABASE_URL:
        _reset_postgres(TEST_DATABASE_URL)
        app = build_app(TEST_DATABASE_URL)
        with app.app_context():
            upgrade()
            db.engine.dispose()
        return None
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    app = build_app(f"sqlite:///{path}")
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


def _empty_postgres(app: Flask) -> None:
    names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            restore_installation_data(conn)


def restore_installation_data(conn: sa.Connection) -> None:
    """What migrations put in an empty database (the demo user, 0011), put back after the
    tables were emptied."""
    users = sa.table(
        "users",
        sa.column("email"),
        sa.column("is_demo"),
        sa.column("is_admin"),
        sa.column("created_at"),
    )
    conn.execute(
        users.insert().values(
            email=DEMO_USER_EMAIL,
            is_demo=True,
            is_admin=False,
            created_at=utcnow().replace(tzinfo=None),
        )
    )


@pytest.fixture
def database_url(migrated_template: Path | None, tmp_path: Path) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    path = tmp_path / "test.sqlite3"
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_settings() -> dict:
    """Settings for the `app` fixture; override in a module to test other modes."""
    return {}


@pytest.fixture
def app(database_url: str, app_settings: dict) -> Iterator[Flask]:
    app = build_app(database_url, **app_settings)
    yield app
    if TEST_DATABASE_URL:
        _empty_postgres(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _push_request_context() -> Iterator[None]:
    """Replace pytest-flask's autouse fixture of this name, which keeps one request context,
    and so one database session, open across all of a test's requests; each request here gets
    its own, as in production."""
    yield


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A certificate authority for test https servers (tests/metadata_server.py)."""
    return trustme.CA()


@pytest.fixture
def trusted_ca(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`ca` trusted by this process's https clients, through SSL_CERT_FILE; the file's path,
    for a server process to trust it the same way."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    return path


@pytest.fixture
def account(app: Flask) -> int:
    """Ada's account (tests/factories.py's PASSWORD), as the log-in and sign-in tests use it."""
    with app.app_context():
        return make_user("ada@example.com").id


@pytest.fixture
def user_browser(app: Flask, account: int) -> FlaskClient:
    """A browser in which Ada has logged in."""
    client = app.test_client()
    log_in(client)
    return client


@pytest.fixture
def chatgpt(app: Flask) -> tuple[str, str]:
    """A registered confidential client for ChatGPT: (client_id, client_secret)."""
    with app.app_context():
        return make_client("Todo GPT")


@pytest.fixture
def auth_headers(app: Flask) -> Callable[..., dict[str, str]]:
    """`auth_headers(*scopes, email="ada@example.com", via="key")`: the headers of a request
    made for the user with that email (made if new), with a new API key or, with via="token",
    an OAuth access token that holds `scopes` (every scope the resources declare, if none);
    via="mcp" gives an access token for the MCP endpoint instead of the REST API."""

    def headers(*scopes: str, email: str = "ada@example.com", via: str = "key") -> dict:
        with app.app_context():
            user = db.session.scalar(sa.select(User).where(User.email == email))
            user = user or make_user(email)
            if via == "key":
                _, credential = make_key(user, scopes or None)
            else:
                assert via in ("token", "mcp"), via
                resource = mcp_resource() if via == "mcp" else None
                credential = make_token(user, scopes or None, resource=resource)
        return {"Authorization": f"Bearer {credential}"}

    return headers


@pytest.fixture
def api(app: Flask, auth_headers: Callable[..., dict[str, str]]) -> FlaskClient:
    """A client whose every request carries Ada's API key, which holds every scope, as her
    GPT's requests do: for tests about what a resource does rather than about credentials."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = auth_headers()["Authorization"]
    return client


class _SpecRequest(WerkzeugOpenAPIRequest):
    @property
    def host_url(self) -> str:
        # The spec's one server is the public URL; the test client calls localhost.
        return TEST_PUBLIC_URL + "/"

    @property
    def body(self) -> bytes | None:
        # Response validation has no use for it, and a body refused with 413 cannot be read.
        return None


@pytest.fixture
def check_against_spec(app: Flask) -> Callable:
    """`check_against_spec(response)`: the response, once checked against the spec the app
    serves: its status is one its operation documents (an error may fall under `default`), and
    its body has that status's shape."""
    spec = app.test_client().get("/openapi.json").json
    openapi = OpenAPI.from_dict(spec)
    operations = [
        (method, re.compile(re.sub(r"\{\w+\}", "[^/]+", path) + r"\Z"), item[method])
        for path, item in spec["paths"].items()
        for method in item
    ]

    def check(response):
        request = response.request
        matching = [
            (pattern.pattern.count("[^/]+"), op)
            for method, pattern, op in operations
            if method == request.method.lower() and pattern.match(request.path)
        ]
        # A fixed path (/projects/archived) wins over a templated one (/projects/{id}) that
        # matches it too, as it does in the app's routing.
        operation = min(matching, key=lambda found: found[0])[1]
        documented = operation["responses"]
        status = response.status_code
        assert str(status) in documented or (status >= 400 and "default" in documented), (
            f"{operation['operationId']} does not document {status}"
        )
        openapi.validate_response(_SpecRequest(request), WerkzeugOpenAPIResponse(response))
        return response

    return check
