"""Every answer is a promise, checked against the database: writes through both transports
while PostgreSQL ends the app's connections (as a failover does) and while more calls come at
once than the pools hold. Each answer is written in a ledger; at the end, every write answered
as done must be in the database, and every write answered "nothing was changed" must not. The
only 5xx allowed is a JSON 503 with Retry-After.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import TEST_DATABASE_URL
from tests.e2e.conftest import Server

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="PostgreSQL only: set TEST_DATABASE_URL (.ci/run does)"
)

WRITERS = 24  # more at once than the two workers' pools (5 connections each) hold
WRITES_EACH = 12
FAULT_EVERY = 0.25  # seconds between two rounds of ending every connection of the app
MCP_HEADERS = {"Accept": "application/json", "MCP-Protocol-Version": "2025-06-18"}


@dataclass
class Entry:
    """One write and what its answer promised: "done", "nothing" (nothing was changed),
    "unsure" (the answer says it may or may not have been saved), or a broken promise."""

    transport: str
    title: str
    status: int
    promise: str
    detail: str = ""


def _engine() -> sa.Engine:
    return sa.create_engine(TEST_DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1))


class ConnectionKiller(threading.Thread):
    """Ends every connection of the app's database but its own, over and over; every other
    round it first holds a lock on the todos for longer than a statement may wait, so that the
    writes behind it hold their pooled connections and the calls behind them find none free."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopping = threading.Event()
        self.rounds = 0

    def run(self) -> None:
        engine = _engine()
        try:
            while not self.stopping.wait(FAULT_EVERY):
                if self.rounds % 2:
                    with engine.begin() as conn:
                        conn.execute(sa.text("LOCK TABLE todos IN EXCLUSIVE MODE"))
                        self.stopping.wait(1.5)
                with engine.connect() as conn:
                    conn.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    ).all()
                self.rounds += 1
        finally:
            engine.dispose()


def _promise_of_error(response: requests.Response, message: str) -> str:
    if response.status_code >= 500 and (
        response.status_code != 503
        or response.headers.get("Content-Type", "").split(";")[0] != "application/json"
        or not response.headers.get("Retry-After", "").isdigit()
    ):
        return "broken: a 5xx other than a JSON 503 with Retry-After"
    if "may have been saved" in message:
        return "unsure"
    if response.status_code >= 500 and "nothing was changed" not in message:
        return "broken: a failure that does not say what became of the write"
    return "nothing"


def rest_add(server: Server, session: requests.Session, title: str) -> Entry:
    response = session.post(f"{server.url}/todos", json={"title": title}, timeout=30)
    if response.status_code == 201:
        promise = "done" if response.json()["title"] == title else "broken: another todo"
        return Entry("rest", title, 201, promise)
    message = response.json().get("message", "") if _is_json(response) else response.text[:200]
    return Entry("rest", title, response.status_code, _promise_of_error(response, message), message)


def mcp_add(server: Server, session: requests.Session, title: str) -> Entry:
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "add_todo", "arguments": {"title": title}},
    }
    response = session.post(f"{server.url}/mcp", json=call, headers=MCP_HEADERS, timeout=30)
    if response.status_code != 200:
        body = response.json() if _is_json(response) else {}
        message = body.get("error", {}).get("message", "") or response.text[:200]
        return Entry(
            "mcp", title, response.status_code, _promise_of_error(response, message), message
        )
    result = response.json()["result"]
    if not result.get("isError"):
        promise = "done" if result["structuredContent"]["title"] == title else "broken: another"
        return Entry("mcp", title, 200, promise)
    envelope = result.get("structuredContent") or {}
    message = envelope.get("message", "")
    if envelope.get("code", 0) >= 500 and "nothing was changed" not in message:
        promise = "unsure" if "may have been saved" in message else "broken: unclear failure"
    else:
        promise = "nothing"
    return Entry("mcp", title, envelope.get("code", 0), promise, message)


def _is_json(response: requests.Response) -> bool:
    return response.headers.get("Content-Type", "").split(";")[0] == "application/json"


def test_no_answer_lies_while_connections_are_ended_and_the_pools_run_dry(
    gunicorn_server: Callable[..., Server],
):
    server = gunicorn_server(ACTION_AUTH="none", DATABASE_TIMEOUT="1")
    ledger: list[Entry] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        with requests.Session() as session:
            session.headers.update({"X-Forwarded-Proto": "https"})
            for m in range(WRITES_EACH):
                add = rest_add if (n + m) % 2 == 0 else mcp_add
                title = f"{add.__name__}-{n}-{m}"
                try:
                    entry = add(server, session, title)
                except requests.RequestException as error:
                    entry = Entry("?", title, 0, f"broken: no answer ({type(error).__name__})")
                with lock:
                    ledger.append(entry)

    killer = ConnectionKiller()
    killer.start()
    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(writer, range(WRITERS)))
    finally:
        killer.stopping.set()
        killer.join()

    engine = _engine()
    try:
        with engine.connect() as conn:
            stored = set(conn.execute(sa.text("SELECT title FROM todos")).scalars())
    finally:
        engine.dispose()

    broken = [e for e in ledger if e.promise.startswith("broken")]
    lies = [
        e
        for e in ledger
        if (e.promise == "done" and e.title not in stored)
        or (e.promise == "nothing" and e.title in stored)
    ]
    counts = {p: sum(e.promise == p for e in ledger) for p in ("done", "nothing", "unsure")}
    assert len(ledger) == WRITERS * WRITES_EACH
    assert not broken, broken[:5]
    assert not lies, (lies[:5], counts)
    # The faults were real: connections were ended while writes ran, and some answers were
    # refusals, yet most writes went through.
    assert killer.rounds >= 3, killer.rounds
    assert counts["done"] > len(ledger) // 2, counts
    reasons = {e.detail[:40] for e in ledger if e.promise != "done"}
    print(f"ledger: {counts}, {killer.rounds} rounds of ended connections; {reasons}")
