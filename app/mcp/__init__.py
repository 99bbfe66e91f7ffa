"""The MCP endpoint (POST /mcp) and its OAuth protected resource metadata (RFC 9728).

ChatGPT connects apps to remote MCP servers; this serves the same operations, accounts, tokens
and data as the GPT action, as MCP tools (app/mcp/tools.py) through the official SDK
(app/mcp/server.py). It is the second adapter over the runner (app/operations.py), beside the
REST API (app/rest.py): the view gets the app's request id, security headers and error
envelope like any API call, checks Origin, admits the caller (its credential for the MCP
audience, app/credentials.py, and its rate limit), and only then hands the request to the SDK,
whose tool handler hands each call to the runner.
"""

from app.mcp.routes import blp

__all__ = ["blp"]
