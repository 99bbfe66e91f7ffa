"""The MCP endpoint (POST /mcp) and its OAuth protected resource metadata (RFC 9728).

ChatGPT connects apps to remote MCP servers; this serves the same operations, accounts, tokens
and data as the GPT action, as MCP tools (app/mcp/tools.py) through the official SDK
(app/mcp/server.py). The view is the front door: it gets the app's request id, security
headers, error envelope and per-credential rate limit like any API call, checks Origin and the
credential (app/mcp/auth.py), and only then hands the request to the SDK.
"""

from app.mcp.routes import blp

__all__ = ["blp"]
