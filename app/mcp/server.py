"""The official MCP SDK's server, run inside the WSGI app.

The SDK is an ASGI application. a2wsgi's ASGIMiddleware runs it on an event loop of its own
(one thread per worker process, shared by every app the process builds) and gives it to the
Flask view of /mcp as a WSGI app, so MCP is served by the same gunicorn workers, worker
timeout and access log as the REST API, and REST requests never touch the SDK. The SDK is
stateless and answers JSON: any worker answers any request, and no call holds a stream open.

Tools do their database work in threads of their own, each inside an app context, at most
POOL_SIZE at once per worker: as many as the worker's connection pool holds, so a tool never
waits on the pool for a connection another tool holds, and MCP opens no more connections than
the REST API does (app/database.py). The view hands over no connection of its own (it closes
its session before the SDK runs).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any

import anyio
from a2wsgi import ASGIMiddleware
from flask import Flask
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError

from app.database import POOL_SIZE
from app.extensions import db
from app.mcp import tools as tools_module
from app.mcp.auth import CALLER_KEY, Caller
from app.oauth.resources import MCP_PATH

_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_tool_threads: anyio.CapacityLimiter | None = None


def wsgi_app(app: Flask) -> ASGIMiddleware:
    """This app's MCP endpoint as a WSGI app, made on first use."""
    mcp = app.extensions.get("todo_action_mcp")
    if mcp is None:
        with _loop_lock:
            mcp = app.extensions.get("todo_action_mcp")
            if mcp is None:
                mcp = app.extensions["todo_action_mcp"] = _build(app)
    return mcp


def _event_loop() -> asyncio.AbstractEventLoop:
    # Made in the worker that serves, never in gunicorn's master (a thread does not survive a
    # fork). Called with _loop_lock held.
    global _loop, _tool_threads
    if _loop is None:
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="mcp-loop", daemon=True).start()

        async def make_limiter() -> anyio.CapacityLimiter:
            return anyio.CapacityLimiter(POOL_SIZE)

        _tool_threads = asyncio.run_coroutine_threadsafe(make_limiter(), loop).result()
        _loop = loop
    return _loop


def _build(app: Flask) -> ASGIMiddleware:
    tools = tools_module.build_tools(app)
    listing = types.ListToolsResult(tools=[t.tool for t in tools.values()])

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return listing

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = tools.get(params.name)
        if tool is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        caller = ctx.request.scope["wsgi_environ"][CALLER_KEY]
        work = functools.partial(_call_in_app, app, tool, caller, params.arguments or {})
        return await anyio.to_thread.run_sync(work, limiter=_tool_threads)

    server = Server(
        "todo-action",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    asgi = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        # A body sent without Content-Length is only measured as it is read.
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
        # The view checks Origin first, with the API's error envelope; the Host is whatever
        # the PaaS router forwards, as for every other route of the app.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    loop = _event_loop()
    started = threading.Event()

    async def run_session_manager() -> None:
        # The SDK's request handling runs inside its session manager's task group, which an
        # ASGI server would start with the app's lifespan; a2wsgi does not send lifespan events.
        async with server.session_manager.run():
            started.set()
            await anyio.sleep_forever()

    running = asyncio.run_coroutine_threadsafe(run_session_manager(), loop)
    if not started.wait(timeout=10):
        running.cancel()
        raise RuntimeError("the MCP session manager did not start")
    return ASGIMiddleware(asgi, loop=loop)


def _call_in_app(
    app: Flask, tool: tools_module.OperationTool, caller: Caller, arguments: dict
) -> types.CallToolResult:
    with app.app_context():
        # The view's session has been closed; the user is attached to this thread's session
        # as it was loaded there, without another query.
        user = db.session.merge(caller.user, load=False)
        return tools_module.call(tool, Caller(user, caller.scopes), arguments)
