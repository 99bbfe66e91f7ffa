"""`python -m bench.path`: the project functions, modules and threads one call passes through.

Traces one REST getTodos and one MCP tools/call list_todos (a page of 50, a bearer token, the
production config, in process): every function of the app/ package that runs, the modules
they are in, and the threads they run on. docs/architecture.md records its output.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from werkzeug.test import EnvironBuilder

APP_DIR = str(Path(__file__).resolve().parent.parent / "app") + "/"
ROUTER_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


def trace(call: Callable[[], object]) -> tuple[list[str], set[str], set[int]]:
    """The app functions `call` runs, in the order first seen, their modules and threads.
    Comprehensions and lambdas count as part of the function they are written in."""
    seen: dict[str, None] = {}
    modules: set[str] = set()
    threads: set[int] = set()

    def profile(frame, event, arg):
        if event != "call":
            return
        code = frame.f_code
        if not code.co_filename.startswith(APP_DIR):
            return
        if code.co_name.startswith("<"):
            return  # a comprehension or lambda: part of the function it is written in
        module = code.co_filename[len(APP_DIR) :]
        seen.setdefault(f"{module}:{code.co_qualname}", None)
        modules.add(module)
        threads.add(threading.get_ident())

    # Threads started from now on, and this one; a thread already running (a pool's) that ran
    # app code would be missed, so none of the app's runs before the trace.
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    return list(seen), modules, threads


def main() -> None:
    from flask_migrate import upgrade

    from app import create_app
    from app.audience import mcp_resource
    from app.extensions import db
    from app.todos.models import Todo
    from tests.factories import make_token, make_user

    work = tempfile.mkdtemp(prefix="todo-action-path-")
    app = create_app(
        {
            "APP_ENV": "production",
            "SECRET_KEY": "x" * 48,
            "PUBLIC_URL": "https://todo-action-bench.example.com",
            "DATABASE_URL": f"sqlite:///{work}/path.sqlite3",
        }
    )
    with app.app_context():
        upgrade()
        user = make_user("reader@bench.test")
        db.session.add_all(Todo(owner_id=user.id, title=f"Todo {n}") for n in range(50))
        db.session.commit()
        rest_token = make_token(user)
        mcp_token = make_token(user, resource=mcp_resource())

    def request(path: str, token: str, **kwargs) -> Callable[[], object]:
        headers = {
            **ROUTER_HEADERS,
            "Authorization": f"Bearer {token}",
            **kwargs.pop("headers", {}),
        }

        def call() -> object:
            environ = EnvironBuilder(path=path, headers=headers, **kwargs).get_environ()
            statuses = []
            body = b"".join(app(environ, lambda status, headers: statuses.append(status)))
            assert statuses[0].startswith("200"), (statuses, body[:200])
            return body

        return call

    rest = request("/todos", rest_token)
    mcp = request(
        "/mcp",
        mcp_token,
        method="POST",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "list_todos", "arguments": {}},
        },
        headers={"Accept": "application/json", "MCP-Protocol-Version": "2025-06-18"},
    )
    for name, call in (("REST getTodos", rest), ("MCP list_todos", mcp)):
        call()  # the first call imports and builds what later calls reuse
        functions, modules, threads = trace(call)
        print(
            f"{name}: {len(functions)} functions in {len(modules)} modules, "
            f"{len(threads)} thread(s)"
        )
        for function in functions:
            print(f"  {function}")


if __name__ == "__main__":
    main()
