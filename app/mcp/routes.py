"""Routes of the MCP endpoint; a plain Blueprint, so they stay out of the action spec."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request
from flask_smorest import abort
from werkzeug.test import run_wsgi_app

from app.auth import credential_key
from app.extensions import db
from app.mcp.auth import CALLER_KEY, MCP_PATH, METADATA_PATH, authenticate, resource_url
from app.oauth.server import issuer
from app.operations import all_scopes
from app.ratelimit import api_limit, api_limit_off, limiter

blp = Blueprint("mcp", __name__)


# POST only: the handshake era's GET opens an event stream that would hold a worker thread
# until the worker timeout, and a stateless server has no session to DELETE; Flask answers
# both with 405 before the SDK sees them.
@blp.post(MCP_PATH)
def endpoint() -> Response:
    _check_origin()
    caller = authenticate()
    _check_body()
    request.environ[CALLER_KEY] = caller
    if api_limit_off():
        return _serve()
    return _limited_serve()


def _serve() -> Response:
    # Imported on the first call: the SDK and what it brings (pydantic, starlette) add about
    # 25 MB to a worker, which a deployment that serves only the GPT action need not carry.
    from app.mcp.server import wsgi_app

    # The tools run in threads of their own with sessions of their own (app/mcp/server.py);
    # a connection this session held would sit idle in the pool they draw from.
    db.session.close()
    app_iter, status, headers = run_wsgi_app(
        wsgi_app(current_app._get_current_object()), request.environ, buffered=True
    )
    return Response(app_iter, status, headers)


# The API's limit and budget name, counted per credential (as app.auth.protected does); made
# once, as Flask-Limiter registers a limit when its decorator is applied.
_limited_serve = limiter.shared_limit(api_limit, scope="api", key_func=credential_key)(_serve)


def _check_body() -> None:
    # The SDK would answer these in plain text; the API's envelope says the same in JSON.
    if not request.is_json:
        abort(415, message="Send the JSON-RPC message as JSON (Content-Type: application/json).")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        abort(413, message=f"The request body is larger than {limit} bytes.")


def _check_origin() -> None:
    # A web page's script sends its Origin; MCP clients and ChatGPT's servers send none or
    # this server's own. Anything else is a page on another site using a visitor's browser.
    origin = request.headers.get("Origin")
    if origin is None:
        return
    public = urlsplit(current_app.config["PUBLIC_URL"])
    if origin != f"{public.scheme}://{public.netloc}":
        abort(403, message="Requests from web pages on other sites are not accepted here.")


@blp.get(METADATA_PATH)
@blp.get(METADATA_PATH + MCP_PATH)
def protected_resource_metadata() -> Response:
    """RFC 9728 metadata: which authorization server issues tokens for /mcp, and for what."""
    return jsonify(
        resource=resource_url(),
        # Byte for byte the issuer of /.well-known/oauth-authorization-server.
        authorization_servers=[issuer()],
        scopes_supported=list(all_scopes()),
        bearer_methods_supported=["header"],
        resource_name="todo-action",
        resource_documentation=f"{current_app.config['PUBLIC_URL']}/docs/",
    )
