"""Routes of the MCP endpoint; a plain Blueprint, so they stay out of the action spec."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, jsonify, request

from app.audience import MCP_PATH, issuer, mcp_resource
from app.credentials import MCP, METADATA_PATH
from app.operations import admit
from app.refusals import Forbidden, Unsupported
from app.resources import all_operations, all_scopes

blp = Blueprint("mcp", __name__)


# POST only: the handshake era's GET opens an event stream that would hold a worker thread
# until the worker timeout, and a stateless server has no session to DELETE; Flask answers
# both with 405 before the SDK sees them.
@blp.post(MCP_PATH)
def endpoint() -> Response:
    _check_origin()
    caller = admit(MCP, [operation for _, operation in all_operations()])
    if not request.is_json:
        # The SDK would answer in plain text; the API's envelope says the same in JSON.
        raise Unsupported("Send the JSON-RPC message as JSON (Content-Type: application/json).")
    # Imported on the first call: the SDK and what it brings (pydantic, starlette) add about
    # 25 MB to a worker, which a deployment that serves only the GPT action need not carry.
    from app.mcp.server import CALLER, serve

    setattr(g, CALLER, caller)
    return serve(request)


def _check_origin() -> None:
    # A web page's script sends its Origin; MCP clients and ChatGPT's servers send none or
    # this server's own. Anything else is a page on another site using a visitor's browser.
    origin = request.headers.get("Origin")
    if origin is None:
        return
    public = urlsplit(current_app.config["PUBLIC_URL"])
    if origin != f"{public.scheme}://{public.netloc}":
        raise Forbidden("Requests from web pages on other sites are not accepted here.")


@blp.get(METADATA_PATH)
@blp.get(METADATA_PATH + MCP_PATH)
def protected_resource_metadata() -> Response:
    """RFC 9728 metadata: which authorization server issues tokens for /mcp, and for what."""
    return jsonify(
        resource=mcp_resource(),
        # Byte for byte the issuer of /.well-known/oauth-authorization-server.
        authorization_servers=[issuer()],
        scopes_supported=list(all_scopes()),
        bearer_methods_supported=["header"],
        resource_name=current_app.config["APP_TITLE"],
        resource_documentation=f"{current_app.config['PUBLIC_URL']}/docs/",
    )
