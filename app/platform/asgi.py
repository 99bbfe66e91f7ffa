"""Calling an ASGI application for one HTTP request, from the WSGI view that serves it.

`call` runs the application on an event loop of the calling thread, kept for the thread's next
request (a server's threads serve one request at a time each). Nothing is handed to another
thread and back: what the application awaits runs in the request's own thread and context
(Flask's application and request context, and with them the request's database session), and a
blocking call inside it holds up this request alone. It suits an application that answers each
request by itself and completely, as a stateless server answering in JSON does; one that
streams, or keeps state between requests, needs a loop of its own that runs on
(docs/architecture.md says why the MCP endpoint is served this way).

The request's body has been read already (app/json_body.py); the application gets it whole,
then, if it listens for the client going away, hears so once it has answered.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from werkzeug import Request, Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _ThreadLoop:
    """An event loop kept for one thread, closed when the thread ends and lets it go."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()

    def __del__(self) -> None:
        self.runner.close()


_threads = threading.local()


def call(make_app: Callable[[], ASGIApp], request: Request) -> Response:
    """The response to `request` of the ASGI application `make_app` makes, inside the event
    loop (so that what it makes belongs to that loop)."""
    loop = getattr(_threads, "loop", None)
    if loop is None:
        # A loop per thread rather than per request: making and closing one cost the MCP
        # endpoint a tenth of a millisecond a call (docs/architecture.md).
        loop = _threads.loop = _ThreadLoop()
    # The request's context, not the one the runner was made in: Flask's request is in it.
    return loop.runner.run(_call(make_app, request), context=contextvars.copy_context())


async def _call(make_app: Callable[[], ASGIApp], request: Request) -> Response:
    asgi = make_app()
    answered = asyncio.Event()
    body_sent = False
    status = 500
    headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {
                "type": "http.request",
                "body": request.get_data(cache=True),
                "more_body": False,
            }
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.extend(
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in message.get("headers", ())
            )
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    await asgi(_scope(request), receive, send)
    answered.set()
    return Response(b"".join(chunks), status=status, headers=headers)


def _scope(request: Request) -> Scope:
    environ = request.environ
    server_port = environ.get("SERVER_PORT") or "0"
    remote_port = environ.get("REMOTE_PORT") or "0"
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1").partition("/")[2] or "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.path.encode("utf-8"),
        "query_string": request.query_string,
        "root_path": request.root_path,
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in request.headers.items()
        ],
        "client": (request.remote_addr or "", int(remote_port) if remote_port.isdigit() else 0),
        "server": (
            environ.get("SERVER_NAME", ""),
            int(server_port) if server_port.isdigit() else 0,
        ),
    }
