"""`make bench`: the app under gunicorn with the production config, loaded by wrk over loopback.

    python -m bench.run [--db sqlite|postgres|both] [--duration 10] [--connections 16]
                        [--app-env NAME=VALUE ...]

For each database: migrate a fresh one, register an OAuth client with the CLI, create users and
todos through the app's models, start gunicorn (deploy/gunicorn.conf.py, its worker count),
sign in over HTTP (log-in, consent, code exchange) for the access and refresh tokens, capture
getTodos' response and serve those bytes from a bare Flask app under the same gunicorn config.
Then measure:

- bare: the bare app's GET /todos;
- getTodos: GET /todos with the token of a user with 50 open todos, on the app as deployed;
  bare and getTodos each at --connections and at one connection per worker;
- getTodos-10 and getTodos-100k: users with 10 and 100,000 todos, both for a page of 10
  (`?limit=10`), so that only the size of the list differs (the default page of 50 against a
  list of 10 would measure the response's size instead);
- addTodo: POST /todos;
- token: the refresh_token grant with client_secret_post (TOKEN_RATE_LIMIT=off);
- spec: GET /openapi.json;
- mcp list_todos: the same page of 50 as getTodos, as one MCP tools/call to POST /mcp,
  alternated with bare and getTodos;
- getTodos (API key) beside the same getTodos written with other stacks (bench/peers): FastAPI
  with the sync engine and with the async one under uvicorn, and lean Flask under gunicorn,
  all for the same API key and page, alternated.

The measurements the targets compare, bare and getTodos at both concurrencies and getTodos-10
and -100k, are taken alternately in --rounds short rounds and pooled; the others once each.

Prints a markdown table and PASS/FAIL per target; exits 1 if any target fails. The targets are
getTodos': its worker CPU per request as a multiple of the bare app's (the median of the
rounds' ratios at --connections), its p99 at one connection per worker (of all the rounds'
requests), its p50 with 100,000 todos against 10 (the median of the rounds' ratios), worker
RSS, and MCP list_todos' worker CPU per request against getTodos' (the median of the rounds'
ratios). addTodo's, token's and spec's p99 at --connections are set against the same 25 ms and
printed as within or over it, without failing the run.

--app-env NAME=VALUE (repeatable) is added to the app's environment, for measuring an older
commit as the current code runs: `--app-env LIST_CACHE_BYTES=0` on a commit that still has the
per-worker getTodos cache makes every call run the query and the dump, the path every first
read takes. The bare server gets it too, so that gunicorn settings (WEB_CONCURRENCY, ...) stay
the same on both sides of a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import requests

from bench import PASSWORD
from bench.oauth_flow import GPT_ID, get_tokens

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LUA = REPO_ROOT / "bench" / "wrk.lua"
PUBLIC_URL = "https://todo-action-bench.example.com"
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/bench")
# What a PaaS router adds to every request; the app trusts one hop, as deployed.
ROUTER_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}

READER, SMALL, BIG, WRITER = (
    "reader@bench.test",
    "small@bench.test",
    "big@bench.test",
    "writer@bench.test",
)
USERS = {READER: 50, SMALL: 10, BIG: 100_000, WRITER: 0}
# The page both getTodos-10 and getTodos-100k ask for: the same ten todos' worth of work, so
# that what differs between them is the size of the user's list, not of the response.
SAME_PAGE = "/todos?limit=10"

# Targets on the reference machine (2 cores). PostgreSQL is allowed more CPU than SQLite: its
# driver's round trips (BEGIN, the statements, ROLLBACK) are work in the worker that SQLite's
# in-process calls do not have.
# No more than the runner's predecessor cost, measured as 7.9-8.1x and 10-10.8x bare's on
# this machine (docs/performance.md).
TARGET_CPU_RATIO = {"sqlite": 8.1, "postgres": 10.8}
TARGET_P99_MS = 25.0
TARGET_SCALING = 1.2
# 110 MB before MCP: a worker that has served /mcp holds the SDK too, about 30 MB more.
TARGET_RSS_MB = 140.0
TARGET_MCP_CPU_RATIO = 1.5
# getTodos for an API key against the FastAPI peer's (sync engine, bench/peers) for the same.
TARGET_PEER_CPU_RATIO = 1.0
PEERS = ("fastapi-sync", "fastapi-async", "flask-lean")
# Compared with TARGET_P99_MS and reported, not targets: see docs/performance.md, Targets.
P99_REPORTED = ("addTodo", "token", "spec")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(cmd: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
    return result


# --- servers and their memory ---------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen
    log_path: Path
    rss_kb: dict[int, int] = field(default_factory=dict)  # worker pid -> max VmRSS seen

    def workers(self) -> list[int]:
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(c) for c in children]

    def sample_rss(self) -> None:
        for pid in self.workers():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        kb = int(line.split()[1])
                        self.rss_kb[pid] = max(self.rss_kb.get(pid, 0), kb)
                        break
            except (OSError, ValueError):
                pass

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the workers so far: per request, it is what the app
        costs whatever else the machine is running."""
        ticks = 0
        for pid in self.workers():
            try:
                fields_ = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            ticks += int(fields_[11]) + int(fields_[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def max_rss_mb(self) -> float:
        return max(self.rss_kb.values(), default=0) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_gunicorn(name: str, app_spec: str, env: dict[str, str], log_dir: Path) -> Server:
    port = free_port()
    cmd = [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    return start_server(name, [*cmd, app_spec], port, env, log_dir)


def start_uvicorn(name: str, app_spec: str, workers: int, env: dict[str, str], log_dir: Path):
    """An ASGI peer as FastAPI's docs deploy one: uvicorn with its standard extras, a worker
    process per core."""
    port = free_port()
    cmd = [str(BIN / "uvicorn"), app_spec, "--host", "127.0.0.1", "--port", str(port)]
    return start_server(name, [*cmd, "--workers", str(workers)], port, env, log_dir)


def start_server(
    name: str, cmd: list[str], port: int, env: dict[str, str], log_dir: Path
) -> Server:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name}: {cmd[0]} exited:\n{log_path.read_text()}")
        try:
            if requests.get(server.url + "/healthz", timeout=5).status_code == 200:
                settle_workers(server)
                return server
        except requests.RequestException:
            pass
        time.sleep(0.1)
    server.stop()
    sys.exit(f"{name}: {cmd[0]} not ready in 60 s:\n{log_path.read_text()}")


def settle_workers(server: Server, quiet: float = 1.0, limit: float = 15.0) -> None:
    """Wait until the worker count has held for `quiet` seconds.

    The first worker can answer before gunicorn has forked the rest (it sleeps up to 0.1 s
    between forks), and the measurements at one connection per worker need them all.
    """
    count, since = len(server.workers()), time.monotonic()
    deadline = since + limit
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.1)
        now = len(server.workers())
        if now != count:
            count, since = now, time.monotonic()


class RssSampler(threading.Thread):
    """Polls every worker's VmRSS while the bench runs; the maximum is what is reported."""

    def __init__(self, servers: list[Server], interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.servers = servers
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for server in self.servers:
                server.sample_rss()
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


# --- wrk ---------------------------------------------------------------------------------------


@dataclass
class Measurement:
    name: str
    server: Server
    path: str
    headers: dict[str, str]
    connections: int
    method: str = "GET"
    body: str = ""
    content_type: str = ""
    max_requests: int = 0
    # wrk runs for its whole -d even when every thread stopped early, so a budgeted measurement
    # gets a short duration of its own: req/s is only right when the budget was not reached.
    duration: float | None = None
    expected_status: int = 200
    result: dict = field(default_factory=dict)
    rss_mb: float = 0.0
    cpu_ms: float = 0.0  # worker CPU time per request
    rounds: list[Measurement] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.result["requests"] / (self.result["duration_us"] / 1e6)

    @property
    def capped(self) -> bool:
        return bool(self.max_requests) and self.result["requests"] >= self.max_requests

    @property
    def p50_ms(self) -> float:
        return self.result["p50_us"] / 1000

    @property
    def p99_ms(self) -> float:
        return self.result["p99_us"] / 1000


def wrk_threads(m: Measurement, threads: int) -> int:
    # wrk refuses more threads than connections.
    return min(threads, m.connections)


def wrk_command(m: Measurement, duration: float, threads: int) -> list[str]:
    cmd = [
        "wrk",
        f"-t{wrk_threads(m, threads)}",
        f"-c{m.connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
    ]
    for name, value in {**ROUTER_HEADERS, **m.headers}.items():
        cmd += ["-H", f"{name}: {value}"]
    return cmd + [m.server.url + m.path]


def wrk_env(m: Measurement, threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(BENCH_METHOD=m.method, BENCH_BODY=m.body, BENCH_CONTENT_TYPE=m.content_type)
    threads = wrk_threads(m, threads)
    per_thread = -(-m.max_requests // threads) if m.max_requests else 0
    env["BENCH_MAX_PER_THREAD"] = str(per_thread)
    return env


def shown(cmd: list[str]) -> str:
    """The command as printed: credentials replaced by placeholders."""
    out = []
    for part in cmd:
        if part.startswith("Authorization: Bearer "):
            part = "Authorization: Bearer $ACCESS_TOKEN"
        out.append(f"'{part}'" if " " in part else part)
    return " ".join(out)


def mcp_list_todos(app: Server, headers: dict[str, str], connections: int) -> Measurement:
    """The same page as getTodos, as ChatGPT asks for it over MCP: one stateless JSON-RPC
    tools/call to POST /mcp (handshake era; a 2026-07-28 client sends the same call)."""
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "list_todos", "arguments": {}},
    }
    return Measurement(
        "mcp list_todos",
        app,
        "/mcp",
        {**headers, "Accept": "application/json", "MCP-Protocol-Version": "2025-06-18"},
        connections,
        method="POST",
        body=json.dumps(call),
        content_type="application/json",
    )


def measure(m: Measurement, duration: float, threads: int, warmup: float) -> None:
    env = wrk_env(m, threads)
    if warmup and not m.max_requests:
        subprocess.run(wrk_command(m, warmup, threads), env=env, capture_output=True, check=True)
    m.server.rss_kb.clear()
    cmd = wrk_command(m, m.duration or duration, threads)
    print(f"  {m.name}: {shown(cmd)}", flush=True)
    cpu_before = m.server.cpu_seconds()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    cpu = m.server.cpu_seconds() - cpu_before
    line = next((x for x in out.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        sys.exit(f"no result from wrk:\n{out}")
    m.result = json.loads(line.removeprefix("BENCH_RESULT "))
    m.cpu_ms = 1000 * cpu / max(1, m.result["requests"])
    m.server.sample_rss()
    m.rss_mb = m.server.max_rss_mb()
    r = m.result
    errors = r["errors_connect"] + r["errors_read"] + r["errors_write"] + r["errors_timeout"]
    print(
        f"    {m.rps:8.1f} req/s  p50 {m.p50_ms:6.2f} ms  p99 {m.p99_ms:6.2f} ms  "
        f"CPU {m.cpu_ms:.2f} ms/req  non-2xx {r['errors_status']}  socket errors {errors}  "
        f"worker RSS {m.rss_mb:.1f} MB",
        flush=True,
    )


def interleaved(
    group: list[Measurement], rounds: int, duration: float, threads: int, warmup: float
) -> list[Measurement]:
    """Measurements taken in turn, `rounds` times each, and pooled.

    The targets compare them as ratios; on a shared machine the load from elsewhere changes
    over seconds, and alternating in short rounds exposes both sides to the same changes.
    """
    taken: list[list[Measurement]] = [[] for _ in group]
    for n in range(rounds):
        for template, into in zip(group, taken, strict=True):
            m = replace(template, name=f"{template.name} (round {n + 1})")
            # Warmed up once; after that the servers are as warm as they get.
            measure(m, duration, threads, warmup if n == 0 else 0)
            into.append(m)
    return [pooled(template, into) for template, into in zip(group, taken, strict=True)]


def pooled(template: Measurement, rounds: list[Measurement]) -> Measurement:
    """Rounds as one measurement: their requests over their time, the median p50, and the p99
    of all their requests together."""
    m = replace(template, rounds=rounds)
    results = [r.result for r in rounds]
    requests = sum(r["requests"] for r in results)
    m.result = {
        **results[0],
        "requests": requests,
        "duration_us": sum(r["duration_us"] for r in results),
        "p50_us": statistics.median(r["p50_us"] for r in results),
        "p99_us": pooled_p99_us(results),
        "errors_status": sum(r["errors_status"] for r in results),
    }
    m.cpu_ms = sum(r.cpu_ms * r.result["requests"] for r in rounds) / max(1, requests)
    m.rss_mb = max(r.rss_mb for r in rounds)
    return m


TAIL_STEP = 0.05  # percent between the tail percentiles bench/wrk.lua prints, from 90 to 100


def pooled_p99_us(results: list[dict]) -> int:
    """The least latency at or below which 99% of all the rounds' requests fall.

    What one measurement as long as the rounds together would report as its p99; the worst of
    the rounds' own p99s, used before, is nearer a p99.9, and one slow round on a shared
    machine decided it. Each round's share of requests at or below a latency is read off its
    tail percentiles (bench/wrk.lua), rounded down to the step, so the answer errs high, never
    low.
    """
    total = sum(r["requests"] for r in results)

    def share_at_most(result: dict, latency_us: int) -> float:
        below = bisect_right(result["tail_us"], latency_us)
        # Under a round's p90 its share is counted as none: again erring high.
        return 0.0 if below == 0 else (90 + (below - 1) * TAIL_STEP) / 100

    for latency_us in sorted({v for r in results for v in r["tail_us"]}):
        if sum(r["requests"] * share_at_most(r, latency_us) for r in results) >= 0.99 * total:
            return latency_us
    return max(r["max_us"] for r in results)


def round_ratios(numerator: Measurement, denominator: Measurement, by: str) -> list[float]:
    """Round by round, numerator's `by` (rps, p50_ms, cpu_ms) over denominator's."""
    values = zip(numerator.rounds, denominator.rounds, strict=True)
    return [getattr(a, by) / getattr(b, by) for a, b in values]


# --- a run on one database -----------------------------------------------------------------


def prepare_database(db: str, work: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{work / 'bench.sqlite3'}"
    import psycopg

    base, _, name = POSTGRES_URL.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES_URL


# Set by the bench for every run; --app-env may not change them, since the measurements
# depend on them (a fresh database, no rate limits answering 429, production settings).
BENCH_OWNED = frozenset(
    (
        "PATH",
        "APP_ENV",
        "SECRET_KEY",
        "PUBLIC_URL",
        "API_RATE_LIMIT",
        "TOKEN_RATE_LIMIT",
        "DATABASE_URL",
    )
)


def app_env(database_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        # A developer's .env is not part of the measured configuration.
        "FLASK_SKIP_DOTENV": "1",
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PUBLIC_URL": PUBLIC_URL,
        "API_RATE_LIMIT": "off",
        "TOKEN_RATE_LIMIT": "off",
        "DATABASE_URL": database_url,
    }
    # The worker count is the deploy config's unless the caller sets it, as a PaaS would;
    # GUNICORN_CMD_ARGS (e.g. "--worker-class gthread --threads 4") is for trying settings.
    for name in ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return {**env, **extra}


def bench_database(db: str, args: argparse.Namespace) -> dict:
    print(f"\n== {db} ==", flush=True)
    work = Path(tempfile.mkdtemp(prefix=f"todo-action-bench-{db}-"))
    env = app_env(prepare_database(db, work), dict(args.app_env))
    flask = str(BIN / "flask")
    run([flask, "--app", "app", "db", "upgrade"], env, timeout=300)
    client = json.loads(
        run(
            [
                flask,
                "--app",
                "app",
                "clients",
                "create",
                "--json",
                "--name",
                "Bench GPT",
                "--gpt-id",
                GPT_ID,
            ],
            env,
            timeout=120,
        ).stdout
    )
    t0 = time.monotonic()
    run(
        [
            str(BIN / "python"),
            "-m",
            "bench.seed",
            *(f"{email}:{count}" for email, count in USERS.items()),
        ],
        env,
        timeout=600,
    )
    print(f"  seeded {sum(USERS.values())} todos in {time.monotonic() - t0:.1f} s", flush=True)

    servers: list[Server] = []
    sampler = None
    try:
        app = start_gunicorn("app", "app:create_app()", env, work)
        servers.append(app)

        def sign_in(email: str, resource: str | None = None) -> dict:
            return get_tokens(
                app.url,
                ROUTER_HEADERS,
                email=email,
                password=PASSWORD,
                client_id=client["client_id"],
                client_secret=client["client_secret"],
                resource=resource,
            )

        tokens = {email: sign_in(email) for email in USERS}
        # /mcp takes only tokens of a sign-in for it (RFC 8707), as an MCP client makes one.
        mcp_token = sign_in(READER, resource=PUBLIC_URL + "/mcp")
        print("  tokens: OAuth flow over HTTP (log-in, consent, code exchange)", flush=True)

        def bearer(email: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[email]['access_token']}"}

        captured = requests.get(
            app.url + "/todos", headers={**ROUTER_HEADERS, **bearer(READER)}, timeout=30
        )
        if captured.status_code != 200 or len(captured.json()["todos"]) != USERS[READER]:
            sys.exit(f"getTodos answered {captured.status_code}: {captured.text[:300]}")
        body_path = work / "getTodos.json"
        body_path.write_bytes(captured.content)
        bare_env = {
            **env,
            "BENCH_BARE_BODY": str(body_path),
            "BENCH_BARE_MIMETYPE": captured.headers["Content-Type"].split(";")[0],
        }
        bare = start_gunicorn("bare", "bench.bare_app:create_app()", bare_env, work)
        servers.append(bare)
        check = requests.get(bare.url + "/todos", timeout=30)
        assert check.content == captured.content, "the bare app must answer the same bytes"
        workers = len(app.workers())
        if len(bare.workers()) != workers:
            sys.exit(f"the bare app has {len(bare.workers())} workers and the app {workers}")

        key = json.loads(
            run(
                [flask, "--app", "app", "keys", "create", READER, "--name", "Bench", "--json"],
                env,
                timeout=120,
            ).stdout
        )["key"]
        peers = start_peers(env, workers, work)
        servers += peers
        with_key = {"Authorization": f"Bearer {key}"}
        expected = requests.get(
            app.url + "/todos", headers={**ROUTER_HEADERS, **with_key}, timeout=30
        ).json()
        for peer in peers:
            answer = requests.get(peer.url + "/todos", headers=with_key, timeout=30).json()
            if not same_page(answer, expected):
                sys.exit(f"{peer.name} does not answer getTodos as the app does: {answer}")

        sampler = RssSampler(servers)
        sampler.start()
        refresh_form = urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens[READER]["refresh_token"],
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            }
        )
        timing = (args.duration, args.threads, args.warmup)
        paired = (args.round_duration, args.threads, args.warmup)
        # At --connections (16) requests queue behind busy workers; with one connection per
        # worker a request finds its worker free, so its latency is its own.
        levels = sorted({args.connections, workers}, reverse=True)
        compared = interleaved(
            [
                Measurement(name, server, "/todos", headers, connections)
                for connections in levels
                for name, server, headers in (("bare", bare, {}), ("getTodos", app, bearer(READER)))
            ]
            + [
                mcp_list_todos(
                    app, {"Authorization": f"Bearer {mcp_token['access_token']}"}, args.connections
                )
            ],
            args.rounds,
            *paired,
        )
        compared += interleaved(
            [
                Measurement(name, server, "/todos", with_key, args.connections)
                for name, server in [("getTodos (API key)", app), *((p.name, p) for p in peers)]
            ],
            args.rounds,
            *paired,
        )
        compared += interleaved(
            [
                Measurement("getTodos-10", app, SAME_PAGE, bearer(SMALL), args.connections),
                Measurement("getTodos-100k", app, SAME_PAGE, bearer(BIG), args.connections),
            ],
            args.rounds,
            *paired,
        )
        measurements = [
            Measurement("spec", app, "/openapi.json", {}, args.connections),
            Measurement(
                "addTodo",
                app,
                "/todos",
                bearer(WRITER),
                args.connections,
                method="POST",
                body=json.dumps({"title": "Buy milk", "notes": "Semi-skimmed, two"}),
                content_type="application/json",
                expected_status=201,
            ),
            Measurement(
                "token",
                app,
                "/oauth/token",
                {},
                args.connections,
                method="POST",
                body=refresh_form,
                content_type="application/x-www-form-urlencoded",
            ),
        ]
        for m in measurements:
            measure(m, *timing)
        sampler.stop()
        sampler = None
        measurements = compared + measurements
        return {
            "db": db,
            "measurements": measurements,
            # Each measurement's own maximum: the servers' samples start again with each one.
            "app_rss_mb": max(m.rss_mb for m in measurements if m.server is app),
            "workers": workers,
            "connections": args.connections,
        }
    finally:
        if sampler is not None:
            sampler.stop()
        for server in servers:
            server.stop()
        if args.keep:
            print(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def start_peers(env: dict[str, str], workers: int, work: Path) -> list[Server]:
    """The peers of bench/peers, each with as many workers as the app, on its database."""
    # The app's environment: the gunicorn config checks its settings before it starts.
    return [
        start_uvicorn("fastapi-sync", "bench.peers.fastapi_sync:app", workers, env, work),
        start_uvicorn("fastapi-async", "bench.peers.fastapi_async:app", workers, env, work),
        start_gunicorn("flask-lean", "bench.peers.flask_lean:create_app()", env, work),
    ]


def same_page(answer: dict, expected: dict) -> bool:
    """The same todos with the same values: datetimes compared as instants, since Pydantic
    writes UTC as Z where the app writes +00:00."""

    def normal(todo: dict) -> dict:
        return {
            **todo,
            "created_at": datetime.fromisoformat(todo["created_at"]),
            "updated_at": datetime.fromisoformat(todo["updated_at"]),
        }

    return [normal(t) for t in answer.get("todos", ())] == [
        normal(t) for t in expected["todos"]
    ] and answer.get("next_cursor") == expected["next_cursor"]


# --- report ------------------------------------------------------------------------------------


def find(run_: dict, name: str, connections: int | None = None) -> Measurement:
    connections = connections or run_["connections"]
    return next(m for m in run_["measurements"] if m.name == name and m.connections == connections)


def rounds_text(values: list[float], fmt: str, unit: str = "") -> str:
    return ", ".join(format(v, fmt) + unit for v in values)


def cpu_ratio(measured: Measurement, against: Measurement, limit: float) -> tuple[bool, str]:
    """`measured`'s worker CPU per request over `against`'s, as the median of the rounds'
    ratios: whether it is within `limit`, and the figures with each round's."""
    ratios = round_ratios(measured, against, "cpu_ms")
    ratio = statistics.median(ratios)
    return ratio <= limit, (
        f"{ratio:.2f}x ({measured.cpu_ms:.2f} against {against.cpu_ms:.2f} ms); rounds "
        f"{rounds_text(ratios, '.2f', 'x')}"
    )


def targets(run_: dict) -> list[tuple[str, bool, str]]:
    out = []
    workers = run_["workers"]
    bare, get = find(run_, "bare"), find(run_, "getTodos")
    # At --connections (16) the workers never wait for work, so CPU per request is the steady
    # cost, counted over the most requests (the CPU clock ticks in hundredths of a second).
    cpu_target = TARGET_CPU_RATIO[run_["db"]]
    within, figures = cpu_ratio(get, bare, cpu_target)
    one_each = statistics.median(
        round_ratios(find(run_, "getTodos", workers), find(run_, "bare", workers), "cpu_ms")
    )
    out.append(
        (
            f"getTodos worker CPU/request <= {cpu_target:g}x bare's at {get.connections} "
            "connections (median of rounds)",
            within,
            f"{figures}; at {workers} connections {one_each:.2f}x",
        )
    )
    out.append(
        (
            f"MCP list_todos worker CPU/request <= {TARGET_MCP_CPU_RATIO:g}x getTodos' for the "
            "same page (median of rounds)",
            *cpu_ratio(find(run_, "mcp list_todos"), get, TARGET_MCP_CPU_RATIO),
        )
    )
    keyed = find(run_, "getTodos (API key)")
    out.append(
        (
            f"getTodos (API key) worker CPU/request <= {TARGET_PEER_CPU_RATIO:g}x FastAPI's "
            "(sync engine) for the same page (median of rounds)",
            *cpu_ratio(keyed, find(run_, "fastapi-sync"), TARGET_PEER_CPU_RATIO),
        )
    )
    get_w = find(run_, "getTodos", workers)
    out.append(
        (
            f"getTodos p99 <= {TARGET_P99_MS:g} ms at {workers} connections, one per worker "
            "(all rounds' requests)",
            get_w.p99_ms <= TARGET_P99_MS,
            f"{get_w.p99_ms:.1f} ms; rounds' own p99 "
            f"{rounds_text([r.p99_ms for r in get_w.rounds], '.1f')} ms",
        )
    )
    small, big = find(run_, "getTodos-10"), find(run_, "getTodos-100k")
    # Latency rather than worker CPU: on PostgreSQL a longer list costs the database's
    # process, which the workers' CPU time does not see.
    scalings = round_ratios(big, small, "p50_ms")
    scaling = statistics.median(scalings)
    cpu_scaling = statistics.median(round_ratios(big, small, "cpu_ms"))
    out.append(
        (
            f"getTodos p50 with 100k todos <= {TARGET_SCALING}x with 10, same page of 10 "
            "(median of rounds)",
            scaling <= TARGET_SCALING,
            f"{scaling:.2f}x; rounds {rounds_text(scalings, '.2f', 'x')}; "
            f"worker CPU {cpu_scaling:.2f}x",
        )
    )
    rss = run_["app_rss_mb"]
    out.append((f"worker RSS <= {TARGET_RSS_MB:g} MB", rss <= TARGET_RSS_MB, f"{rss:.1f} MB"))
    for m in run_["measurements"]:
        if m.result["errors_status"] and m.name != "token":
            out.append(
                (
                    f"{m.name} ({m.connections} connections): every response {m.expected_status}",
                    False,
                    f"{m.result['errors_status']} non-2xx",
                )
            )
    return out


def reported(run_: dict) -> list[tuple[str, bool, str]]:
    out = []
    keyed = find(run_, "getTodos (API key)")
    for name in PEERS[1:]:
        out.append(
            (
                f"getTodos (API key) worker CPU/request <= {name}'s",
                *cpu_ratio(keyed, find(run_, name), 1.0),
            )
        )
    for name in P99_REPORTED:
        m = find(run_, name)
        out.append(
            (
                f"{name} p99 <= {TARGET_P99_MS:g} ms at {m.connections} connections",
                m.p99_ms <= TARGET_P99_MS,
                f"{m.p99_ms:.1f} ms",
            )
        )
    return out


def markdown(runs: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"{args.threads} wrk threads (at most one per connection), {args.duration:g} s per "
        f"measurement; bare and getTodos at {args.connections} connections and at one per "
        f"worker, and getTodos-10 and -100k, alternately in {args.rounds} rounds of "
        f"{args.round_duration:g} s each, pooled (req/s over all rounds, median p50, p99 of "
        "all their requests).",
    ]
    if args.app_env:
        lines.append(f"App environment added: {app_env_text(args.app_env)}.")
    lines += [
        "",
        "| database | measurement | connections | req/s | p50 ms | p99 ms | worker CPU ms/req "
        "| non-2xx | max worker RSS MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run_ in runs:
        for m in run_["measurements"]:
            lines.append(
                f"| {run_['db']} | {m.name} | {m.connections} | "
                f"{'>= ' if m.capped else ''}{m.rps:.0f} | "
                f"{m.p50_ms:.2f} | {m.p99_ms:.2f} | "
                f"{m.cpu_ms:.2f} | "
                f"{m.result['errors_status']} | {m.rss_mb:.1f} |"
            )
    lines += ["", "| database | target | result | measured |", "| --- | --- | --- | --- |"]
    for run_ in runs:
        for name, ok, detail in targets(run_):
            lines.append(f"| {run_['db']} | {name} | {'PASS' if ok else 'FAIL'} | {detail} |")
    lines += [
        "",
        "| database | reported, not a target | result | measured |",
        "| --- | --- | --- | --- |",
    ]
    for run_ in runs:
        for name, ok, detail in reported(run_):
            lines.append(f"| {run_['db']} | {name} | {'within' if ok else 'over'} | {detail} |")
    return "\n".join(lines)


def app_env_text(pairs: list[tuple[str, str]]) -> str:
    return " ".join(shlex.quote(f"{name}={value}") for name, value in pairs)


def app_env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    if name in BENCH_OWNED:
        raise argparse.ArgumentTypeError(f"{name} is set by the bench")
    return name, value


def commit() -> str:
    def git(*cmd: str) -> str:
        return subprocess.run(
            ["git", *cmd], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes" if changed else "")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each, unrecorded")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=8, help="alternations of the compared measurements"
    )
    parser.add_argument(
        "--round-duration",
        type=float,
        default=4.0,
        help="seconds per round of a compared measurement",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--app-env",
        type=app_env_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="add to the app's environment (repeatable); for measuring an older commit as the "
        "current code runs, e.g. LIST_CACHE_BYTES=0 where the getTodos cache still exists",
    )
    parser.add_argument(
        "--markdown", type=Path, help="also write the run's header and tables to this file"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.round_duration <= 0 or args.duration <= 0:
        parser.error("--duration and --round-duration must be above 0")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install -y wrk)")

    header = [
        f"command: python -m bench.run {shlex.join(sys.argv[1:] if argv is None else argv)}",
        f"machine: {machine()}",
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"commit: {commit()}",
        f"app environment added: {app_env_text(args.app_env) if args.app_env else 'none'}",
    ]
    print("\n".join(header), flush=True)
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    runs = [bench_database(db, args) for db in dbs]
    table = markdown(runs, args)
    print("\n" + table + "\n")
    if args.markdown:
        text = "\n".join(f"- {line}" for line in header) + "\n\n" + table + "\n"
        args.markdown.write_text(text, encoding="utf-8")
    failed = [(run_["db"], name) for run_ in runs for name, ok, _ in targets(run_) if not ok]
    for run_ in runs:
        for name, ok, detail in reported(run_):
            if not ok:
                print(f"over, not a target [{run_['db']}] {name}: {detail}")
    for db, name in failed:
        print(f"FAIL [{db}] {name}")
    print("bench: " + ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
