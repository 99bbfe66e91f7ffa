"""Faults that must cost a caller a quick answer, never a hung instance: a database that falls
silent, and clients that connect and then send nothing or only part of a request."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import TEST_DATABASE_URL
from tests.e2e.conftest import Server
from tests.tcp_proxy import TcpProxy

# The settings the tests run with; each bound asserted below is well above what they allow.
DATABASE_TIMEOUT = 1
# A silent pooled connection (its deadline, timeout + 1 s), then a new connection that is not
# answered either (psycopg's least connect_timeout, 2 s).
CALL_BOUND = 8.0
HEALTH_BOUND = 2.0
# Long enough for a hung call to show as a failure rather than end the test run.
CLIENT_TIMEOUT = 20


def timed(call: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


@pytest.fixture
def silent_database(
    gunicorn_server: Callable[..., Server],
) -> Iterator[tuple[Server, TcpProxy]]:
    """A server whose PostgreSQL is reached through a proxy the test can silence."""
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL only: set TEST_DATABASE_URL (.ci/run does)")
    url = sa.make_url(TEST_DATABASE_URL)
    with TcpProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        server = gunicorn_server(
            DATABASE_URL=proxied.render_as_string(hide_password=False),
            DATABASE_TIMEOUT=str(DATABASE_TIMEOUT),
            ACTION_AUTH="none",
        )
        yield server, proxy


def test_a_database_gone_silent_gets_503s_within_seconds_and_calls_work_once_it_is_back(
    silent_database,
):
    server, proxy = silent_database
    client = server.client
    # Each worker now has a pooled connection that will go silent under it.
    for _ in range(4):
        assert client.post(f"{server.url}/todos", json={"title": "before"}).status_code == 201

    proxy.go_silent()
    calls = {
        "getTodos": lambda: client.get(f"{server.url}/todos", timeout=CLIENT_TIMEOUT),
        "addTodo": lambda: client.post(
            f"{server.url}/todos", json={"title": "during"}, timeout=CLIENT_TIMEOUT
        ),
    }
    for name, call in calls.items():
        response, elapsed = timed(call)
        assert response.status_code == 503, (name, response.text)
        assert response.headers["Retry-After"].isdigit(), name
        assert "database is unavailable" in response.json()["message"]
        assert elapsed < CALL_BOUND, (name, elapsed)

    health, elapsed = timed(lambda: client.get(f"{server.url}/healthz", timeout=CLIENT_TIMEOUT))
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert elapsed < HEALTH_BOUND, elapsed

    proxy.restore()
    listed = client.get(f"{server.url}/todos", timeout=CLIENT_TIMEOUT)
    assert listed.status_code == 200, listed.text
    assert [t["title"] for t in listed.json()["todos"]] == ["before"] * 4
    assert "database unavailable" in server.log()


# What a slowloris attack on one instance looks like here: most connections send part of their
# headers and then a byte now and then, a few send a body a byte at a time.
SLOW_HEADERS = 500
SLOW_BODIES = 10
IDLE = 50


def test_a_server_keeps_answering_while_slow_clients_hold_hundreds_of_connections(
    server: Server,
):
    """The deploy config's workers and threads (2 workers, gthread) keep serving others
    within 2 s; a body sent slowly holds a thread, never a database connection."""
    with ExitStack() as stack:
        slow: list[socket.socket] = []
        for _ in range(IDLE):  # connected, nothing sent
            stack.enter_context(socket.create_connection(("127.0.0.1", _port(server))))
        for _ in range(SLOW_HEADERS):  # a request line and part of a header
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", _port(server))))
            sock.sendall(b"GET /todos HTTP/1.1\r\nHost: example\r\nX-Slow: ")
            slow.append(sock)
        for _ in range(SLOW_BODIES):  # whole headers, then a body that trickles in
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", _port(server))))
            sock.sendall(
                b"POST /todos HTTP/1.1\r\nHost: example\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
            slow.append(sock)
        trickle = Trickle(slow)
        stack.enter_context(trickle)
        assert trickle.first_round.wait(10), "the slow connections are sending"

        listed = partial(server.client.get, f"{server.url}/todos", timeout=CLIENT_TIMEOUT)
        added = partial(
            server.client.post, f"{server.url}/todos", json={"title": "x"}, timeout=CLIENT_TIMEOUT
        )
        for _ in range(6):
            for call in (listed, added):
                response, elapsed = timed(call)
                assert response.status_code in (200, 201), response.text
                assert elapsed < 2.0, elapsed
            # A new connection each time, as a new client would open.
            server.client.close()
        if TEST_DATABASE_URL:
            # The slow bodies hold threads, not transactions (nothing reads the database before
            # a body is whole).
            assert _idle_in_transaction(server.env["DATABASE_URL"]) == 0


class Trickle:
    """Sends a byte on each slow connection every half second, so none looks idle."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        self.sockets = sockets
        self.first_round = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            for sock in self.sockets:
                try:
                    sock.send(b"a")
                except OSError:
                    pass  # the server gave up on it: that is allowed
            self.first_round.set()

    def __enter__(self) -> Trickle:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join()


def _idle_in_transaction(database_url: str) -> int:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        engine.dispose()


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])
