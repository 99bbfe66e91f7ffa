"""Which of this server's resources a credential is for (RFC 8707 resource indicators).

The server has two: the REST API, whose tokens come from sign-ins that named no resource (a GPT
action's, as ChatGPT sends none), and the MCP endpoint, whose tokens are bound to its URL. The
authorization server binds a sign-in to one (app/oauth/resources.py) and the credential seam
takes only tokens for the resource being called (app/credentials.py).

Resources are compared in canonical form: scheme and host in lower case, the scheme's default
port dropped, no trailing slash. The query is not part of it: ChatGPT may append one to the
resource it sends, and this server tells its resources apart by path alone.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import current_app

from app.platform.safe_fetch import is_public_address

DEFAULT_PORTS = {"http": 80, "https": 443}
MCP_PATH = "/mcp"


def canonical_resource(value: str) -> str | None:
    """`value` in the form resources are compared in; None if it is no absolute http(s) URI
    without a fragment or user name."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or "#" in value or "@" in parts.netloc:
        return None
    host = parts.hostname  # urlsplit gives it in lower case, IPv6 without its brackets
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


def issuer() -> str:
    """The authorization server's issuer identifier: the RFC 8414 metadata's `issuer`, the
    `iss` of every authorization response (RFC 9207), and what the protected resource
    metadata names (RFC 9728), byte for byte. PUBLIC_URL never ends in a slash."""
    return current_app.config["PUBLIC_URL"]


def mcp_resource() -> str:
    """The MCP endpoint's resource identifier, as tokens for it are bound to it."""
    return canonical_resource(current_app.config["PUBLIC_URL"] + MCP_PATH)


def known_resources() -> tuple[str, ...]:
    return (mcp_resource(),)


# Names no public DNS answers for (RFC 2606, RFC 6761, RFC 6762, RFC 8375, ICANN's .internal).
PRIVATE_SUFFIXES = (
    ".localhost",
    ".local",
    ".internal",
    ".test",
    ".example",
    ".invalid",
    ".home.arpa",
    ".lan",
)


def reachable_by_chatgpt(url: str) -> bool:
    """Whether ChatGPT could call `url`: https, on a name or address of the public internet.
    Judged from the URL alone; DNS is not asked, so a public name that is not set up yet
    passes."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme != "https" or not host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "." in host and not any(host.endswith(suffix) for suffix in PRIVATE_SUFFIXES)
    return is_public_address(host)
