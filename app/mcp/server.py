"""The official MCP SDK's server, called for each request of the /mcp view.

The SDK's low-level `Server` is made once per app, with the tools of the declarations
(app/mcp/tools.py) and the views some of them are shown in (app/mcp/apps.py). Each request
is answered by a stateless session manager of the SDK, the way its Streamable HTTP transport
answers when mounted in an ASGI server, but called from the Flask view on an event loop of
the request's own thread (app/platform/asgi.py): the tool runs the operation in that thread,
with the request's app context and database session, as the REST API's view does. It answers
JSON, never a stream, so any worker answers any request and no call holds a connection open.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response, current_app, g
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError

from app.mcp import apps
from app.mcp import tools as tools_module
from app.platform import asgi

CALLER = "mcp_caller"  # the key in flask.g where the view leaves the caller for the tools


def serve(request: Request) -> Response:
    """The SDK's answer to this request to /mcp, for the caller in g."""
    server = _server(current_app)

    def manager() -> asgi.ASGIApp:
        sessions = StreamableHTTPSessionManager(
            app=server,
            json_response=True,
            stateless=True,
            # The view checks Origin first, with the API's error envelope; the Host is whatever
            # the PaaS router forwards, as for every other route of the app.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            max_request_body_size=current_app.config["MAX_CONTENT_LENGTH"],
        )

        async def app(scope, receive, send) -> None:
            async with sessions.run():
                await sessions.handle_request(scope, receive, send)

        return app

    return asgi.call(manager, request)


def _server(app: Flask) -> Server:
    server = app.extensions.get("todo_action_mcp")
    if server is None:
        server = app.extensions["todo_action_mcp"] = _build(app)
    return server


def _build(app: Flask) -> Server:
    tools = tools_module.build_tools(app.config["ACTION_AUTH"], app.config["APP_NAME"])
    listing = types.ListToolsResult(tools=[t.tool for t in tools.values()])
    views = apps.build_views(app)
    resources = types.ListResourcesResult(
        resources=[view.listed() for uri, view in views.items() if uri == view.uri]
    )

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return listing

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = tools.get(params.name)
        if tool is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        # Runs here, in the request's thread: this event loop serves this request alone.
        return tools_module.call(tool, g.get(CALLER), params.arguments or {})

    async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
        return resources

    async def read_resource(
        ctx: Any, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        view = views.get(str(params.uri))
        if view is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown resource: {params.uri}")
        return view.read(str(params.uri))

    server = Server(
        # The project's name and version (pyproject.toml), and the title people see.
        app.config["APP_NAME"],
        version=app.config["APP_VERSION"],
        title=app.config["APP_TITLE"],
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )
    # Announced to every client: the views are offered whether or not a client says it can
    # show them (app/mcp/apps.py).
    server.extensions[apps.EXTENSION_ID] = {}
    return server
