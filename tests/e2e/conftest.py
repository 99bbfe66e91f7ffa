"""The app under real gunicorn, as a PaaS runs it, for tests that talk HTTP like ChatGPT does.

Fixtures:

- `gunicorn_server(**env) -> Server` (a factory): starts `gunicorn -c deploy/gunicorn.conf.py
  --bind 127.0.0.1:<free port> 'app:create_app()'` with a clean environment, waits until
  /healthz answers and returns a `Server`; all are stopped when the test ends. Keyword arguments
  are environment variables that override the defaults below (ACTION_AUTH="apikey",
  WEB_CONCURRENCY="1", DATABASE_URL=...). All servers of one test share one database and one
  SECRET_KEY, like two dynos of one app, unless given DATABASE_URL/SECRET_KEY of their own.
- `server`: one ACTION_AUTH=none server per module, emptied before each test.
- `oauth_server`: one ACTION_AUTH=oauth server per module, emptied before each test.
- `e2e_database_url`: the migrated, empty database the test's servers use.

`Server` has `url`, `env`, `client` (a requests.Session that sends X-Forwarded-Proto/-For as a
PaaS router does), `log()` and `wait_for_log(text)`. A failing test's report shows the log of
every server it used.

Defaults are production settings: APP_ENV=production, PUBLIC_URL=https://todo-action-e2e.test,
TRUSTED_PROXY_HOPS=1, WEB_CONCURRENCY=2. The database is migrated once per run with `flask --app
app db upgrade` in a subprocess, as a release phase does: into a SQLite file each test copies,
or into TEST_DATABASE_URL (schema rebuilt first), which is emptied between tests.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import TEST_DATABASE_URL, _reset_postgres, clean_env, restore_installation_data

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GUNICORN = str(BIN / "gunicorn")
FLASK = str(BIN / "flask")

E2E_PUBLIC_URL = "https://todo-action-e2e.test"
# What a PaaS router adds to every request it forwards.
ROUTER_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
POLL_INTERVAL = 0.05


@dataclass
class Server:
    url: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen
    client: requests.Session = field(default_factory=requests.Session)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, timeout: float = 5.0) -> str:
        """The first log line containing `text`; gunicorn writes an access line only after
        the response has gone out, so it can lag the client by a moment."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log().splitlines():
                if text in line:
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line with {text!r} within {timeout}s:\n{self.log()}")
            time.sleep(POLL_INTERVAL)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(database_url: str, secret_key: str) -> dict[str, str]:
    """A clean environment: nothing from the developer's shell (a SECRET_KEY, a DATABASE_URL,
    a REDIS_URL) or .env leaks into the server."""
    return {
        **clean_env(),
        "FLASK_SKIP_DOTENV": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "APP_ENV": "production",
        "SECRET_KEY": secret_key,
        "PUBLIC_URL": E2E_PUBLIC_URL,
        "TRUSTED_PROXY_HOPS": "1",
        "WEB_CONCURRENCY": "2",
        "DATABASE_URL": database_url,
    }


def migrate(env: dict[str, str]) -> None:
    """`flask db upgrade` as a release phase runs it: a process of its own, before the server."""
    result = subprocess.run(
        [FLASK, "--app", "app", "db", "upgrade"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(f"flask db upgrade failed:\n{result.stdout}\n{result.stderr}")


def _wait_until_ready(process: subprocess.Popen, url: str) -> str:
    """Whether /healthz answered 200 ("ready"), gunicorn stopped first ("exited") or neither
    happened in time ("timeout")."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return "exited"
        try:
            # The master accepts connections before a worker has imported the app, so the
            # first request may wait for the import.
            with requests.get(f"{url}/healthz", timeout=5) as response:
                if response.status_code == 200:
                    return "ready"
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(POLL_INTERVAL)
    return "timeout"


# Debian's Chromium for the browser tests (tests/e2e/chromium), never one Playwright downloads;
# CHROMIUM names another executable.
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium reaches for Google's services and stalls on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def page(tmp_path):
    """A page in a fresh browser. Any console error fails the test, unless the test expects
    exactly that one (`page.expected_console_error`: a string or a pattern); screenshots go in
    the test's temp dir (`shot`)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        # Chromium logs a refused log-in (a 401 document) as an error; the test says when it
        # expects exactly that, and nothing else is forgiven.
        page.expected_console_error = None

        def on_console(message) -> None:
            expected = page.expected_console_error
            if message.type == "error" and not (
                expected.search(message.text)
                if isinstance(expected, re.Pattern)
                else message.text == expected
            ):
                errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.shots = tmp_path / "screenshots"
        page.shots.mkdir()
        yield page
        context.close()
        browser.close()
    assert errors == [], f"console errors: {errors}"


@contextmanager
def serving(pages: dict[str, tuple[str, dict[str, str]]]) -> Iterator[str]:
    """A loopback origin of its own serving `pages` (path: (html, headers)): another site,
    for a page to frame or be framed by."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            html, headers = pages.get(self.path, ("", {}))
            self.send_response(200 if html else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(html.encode())

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def shot(page, name: str) -> None:
    page.screenshot(path=str(page.shots / f"{name}.png"), full_page=True)


# What gunicorn serves: the app as deployed, unless a test names another factory.
APP = "app:create_app()"
# The app less its public operations, for the MCP SDK's sign-in (tests/e2e/apps.py).
SIGN_IN_APP = "tests.e2e.apps:without_public_operations()"


def start_server(
    env: dict[str, str], log_dir: Path, name: str, cwd: Path = REPO_ROOT, app: str = APP
) -> Server:
    # The port is free when picked but may be taken before gunicorn binds it; start again on
    # another rather than fail.
    for attempt in range(3):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = log_dir / f"{name}-{attempt}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [
                    GUNICORN,
                    "-c",
                    str(REPO_ROOT / "deploy" / "gunicorn.conf.py"),
                    "--bind",
                    f"127.0.0.1:{port}",
                    app,
                ],
                cwd=cwd,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        server = Server(url=url, env=env, log_path=log_path, process=process)
        server.client.headers.update(ROUTER_HEADERS)
        try:
            state = _wait_until_ready(process, url)
        except BaseException:  # an interrupted run must not leave gunicorn behind
            server.stop()
            raise
        if state == "ready":
            return server
        server.stop()
        if state == "timeout":
            pytest.fail(f"gunicorn at {url} was not ready within {READY_TIMEOUT}s:\n{server.log()}")
        if "Address already in use" not in server.log():
            break
    pytest.fail(f"gunicorn did not start (exit code {process.returncode}):\n{server.log()}")


def empty_tables(url: str) -> None:
    """Delete every row but the migration version, leaving the schema as migrated."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        tables = [t for t in metadata.sorted_tables if t.name != "alembic_version"]
        with engine.begin() as conn:
            if engine.dialect.name != "postgresql":
                for table in reversed(tables):
                    conn.execute(table.delete())
            elif tables:
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            restore_installation_data(conn)
    finally:
        engine.dispose()


class GunicornServers:
    """Starts servers on one database with one SECRET_KEY, like the dynos of one app."""

    def __init__(self, database_url: str, log_dir: Path, migrated: bool) -> None:
        self.database_url = database_url
        self.log_dir = log_dir
        self.secret_key = secrets.token_urlsafe(32)
        self.migrated = {database_url} if migrated else set()
        self.servers: list[Server] = []

    def start(self, app: str = APP, **overrides: str) -> Server:
        env = base_env(self.database_url, self.secret_key)
        env.update({k: str(v) for k, v in overrides.items()})
        if env["DATABASE_URL"] not in self.migrated:
            migrate(env)
            self.migrated.add(env["DATABASE_URL"])
        server = start_server(env, self.log_dir, f"gunicorn-{len(self.servers)}", app=app)
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        # Signal all first: each takes about a second to wind down, so they do it together.
        for server in self.servers:
            server.client.close()
            if server.process.poll() is None:
                server.process.terminate()
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="session")
def e2e_template(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """Migrated once per run: a SQLite file to copy, or the PostgreSQL schema rebuilt."""
    if TEST_DATABASE_URL:
        _reset_postgres(TEST_DATABASE_URL)
        migrate(base_env(TEST_DATABASE_URL, secrets.token_urlsafe(32)))
        return None
    path = tmp_path_factory.mktemp("e2e-template") / "template.sqlite3"
    migrate(base_env(f"sqlite:///{path}", secrets.token_urlsafe(32)))
    return path


def _fresh_database(template: Path | None, directory: Path) -> str:
    if template is None:
        empty_tables(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    path = directory / "e2e.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def e2e_database_url(e2e_template: Path | None, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database for this test's servers; PostgreSQL is emptied again after
    the test, as the unit tests' fixtures expect to find it."""
    url = _fresh_database(e2e_template, tmp_path)
    yield url
    if TEST_DATABASE_URL:
        empty_tables(url)


@pytest.fixture
def gunicorn_server(
    request: pytest.FixtureRequest, e2e_database_url: str, tmp_path: Path
) -> Iterator[Callable[..., Server]]:
    """Factory: `gunicorn_server(app=APP, **env) -> Server`; see the module docstring."""
    servers = GunicornServers(e2e_database_url, tmp_path, migrated=True)
    request.node.gunicorn_servers = servers.servers
    yield servers.start
    servers.stop_all()


@contextmanager
def module_servers(
    template: Path | None,
    tmp_path_factory: pytest.TempPathFactory,
    *settings: dict[str, str],
    app: str = APP,
) -> Iterator[list[Server]]:
    """Servers shared by a whole module (starting gunicorn takes seconds): one per settings
    dict, all on one fresh database, like the instances of one app."""
    directory = tmp_path_factory.mktemp("e2e-module")
    servers = GunicornServers(_fresh_database(template, directory), directory, migrated=True)
    try:
        yield [servers.start(app, **env) for env in settings]
    finally:
        servers.stop_all()
        if TEST_DATABASE_URL:
            empty_tables(TEST_DATABASE_URL)


def reuse(request: pytest.FixtureRequest, *servers: Server) -> None:
    """Hand module-shared servers to one test: their database emptied, their logs in its
    report if it fails."""
    empty_tables(servers[0].env["DATABASE_URL"])
    request.node.gunicorn_servers = list(servers)


@pytest.fixture(scope="module")
def shared_server(
    e2e_template: Path | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One ACTION_AUTH=none server for a whole module; use it through `server`."""
    with module_servers(e2e_template, tmp_path_factory, {"ACTION_AUTH": "none"}) as (server,):
        yield server


@pytest.fixture
def server(request: pytest.FixtureRequest, shared_server: Server) -> Iterator[Server]:
    """An ACTION_AUTH=none server with no data and a new client: every action callable
    without credentials."""
    reuse(request, shared_server)
    shared_server.client = requests.Session()
    shared_server.client.headers.update(ROUTER_HEADERS)
    yield shared_server
    shared_server.client.close()


@pytest.fixture(scope="module")
def shared_oauth_server(
    e2e_template: Path | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One ACTION_AUTH=oauth server with two workers for a whole module; use it through
    `oauth_server`."""
    oauth = {"ACTION_AUTH": "oauth", "WEB_CONCURRENCY": "2"}
    with module_servers(e2e_template, tmp_path_factory, oauth) as (server,):
        yield server


@pytest.fixture(scope="module")
def shared_sign_in_server(
    e2e_template: Path | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Like shared_oauth_server, but serving the declared resources without their public
    operations (tests/e2e/apps.py): a client without a token gets the 401 that starts an MCP
    SDK client's sign-in, whatever a team's resources declare."""
    oauth = {"ACTION_AUTH": "oauth", "WEB_CONCURRENCY": "2"}
    with module_servers(e2e_template, tmp_path_factory, oauth, app=SIGN_IN_APP) as (server,):
        yield server


@pytest.fixture
def sign_in_server(request: pytest.FixtureRequest, shared_sign_in_server: Server) -> Server:
    reuse(request, shared_sign_in_server)
    return shared_sign_in_server


@pytest.fixture
def oauth_server(request: pytest.FixtureRequest, shared_oauth_server: Server) -> Server:
    """An ACTION_AUTH=oauth server (the default mode) with no data: GPT actions signing in,
    and MCP clients."""
    reuse(request, shared_oauth_server)
    return shared_oauth_server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed:
        for server in getattr(item, "gunicorn_servers", ()):
            report.sections.append((f"gunicorn log ({server.url})", server.log()))
    return report
