"""Fetching an https URL that a stranger chose, without letting it reach inside the network.

Whoever starts an OAuth sign-in may name a URL this server then fetches (a client metadata
document, app/oauth/client_metadata.py), so the fetch is a request forgery risk. The rules:

- https only, the certificate verified for the URL's host name with the system trust store
  (ssl.create_default_context, which honours SSL_CERT_FILE);
- the host is resolved once, and every address it resolves to must be public; the connection
  then goes to one of those checked addresses, sending the name for SNI and in Host, so a second
  lookup answering differently (DNS rebinding) cannot redirect it. A trusted origin skips the
  public-address check, for a document on an internal host;
- no redirects, no status but 200, at most `max_bytes`, no compressed body;
- one deadline for all of it. getaddrinfo cannot be interrupted and a server can keep a
  connection busy by dripping bytes under any per-read timeout, so the whole fetch runs in a
  daemon thread the caller stops waiting for at the deadline; the thread itself gives up between
  reads once the deadline is past and its socket timeouts end any wait for silence.

urllib3's connection pools read no proxy settings from the environment (HTTPS_PROXY), so the
connection always goes straight to the checked address.

A refusal raises FetchRefused with a `reason` from REASONS, for the caller to word: the
caller's words never depend on what an internal name resolves to, so an outsider cannot map
the network by asking (a name that does not resolve and one that resolves to a private address
are the same reason).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError
from urllib3.exceptions import SSLError as TLSError

# RFC 6052's well-known NAT64 prefix carries an IPv4 address in its last 32 bits; ipaddress does
# not unwrap it as it does IPv4-mapped and 6to4 addresses.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

NOT_PUBLIC = "not public"  # no public address: private, loopback, ..., or no address at all
UNREACHABLE = "unreachable"  # no checked address accepted a connection in time
TLS = "tls"  # no valid certificate for the host
FAILED = "failed"  # the connection broke
REDIRECT = "redirect"
STATUS = "status"  # any status but 200 (FetchRefused.status says which)
COMPRESSED = "compressed"
TOO_LARGE = "too large"
TOO_SLOW = "too slow"
REASONS = (NOT_PUBLIC, UNREACHABLE, TLS, FAILED, REDIRECT, STATUS, COMPRESSED, TOO_LARGE, TOO_SLOW)

T = TypeVar("T")


class FetchRefused(Exception):
    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def origin(url: str) -> str:
    """`https://host[:port]` of an https URL: host in lower case, port 443 left out, as trusted
    origins are compared. ValueError for a URL that does not parse."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port not in (None, 443) else "")


def fetch(
    url: str,
    *,
    trusted: bool,
    timeout: float,
    max_bytes: int,
    headers: Mapping[str, str],
) -> tuple[Mapping[str, str], bytes]:
    """GET an https `url` by the rules above: the response's headers (looked up without regard
    to case) and body. `trusted` skips the public-address check."""
    deadline = time.monotonic() + timeout
    return _before_deadline(deadline, lambda: _fetch(url, trusted, deadline, max_bytes, headers))


def is_public_address(address: str) -> bool:
    """Whether an IP address (as getaddrinfo gives it) is one on the public internet. An IPv4
    address carried in IPv6 (IPv4-mapped, NAT64, 6to4, Teredo) is judged by that IPv4 address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(str(embedded))
        if ip.sixtofour is not None and not is_public_address(str(ip.sixtofour)):
            return False
        if ip.teredo is not None and not is_public_address(str(ip.teredo[1])):
            return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return False  # fec0::/10: deprecated, but still private where it is used
    return (
        ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not ip.is_unspecified
        and not ip.is_loopback
        and not ip.is_link_local
    )


def _before_deadline(deadline: float, work: Callable[[], T]) -> T:
    """work()'s result, run in a daemon thread that is abandoned at the deadline."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as error:  # handed to the waiting thread, which raises it
            outcome["error"] = error

    worker = threading.Thread(target=run, name="safe-fetch", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise FetchRefused(TOO_SLOW)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _fetch(
    url: str, trusted: bool, deadline: float, max_bytes: int, headers: Mapping[str, str]
) -> tuple[Mapping[str, str], bytes]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    addresses = _resolve(host, port)
    if not trusted and not all(is_public_address(address) for address in addresses):
        raise FetchRefused(NOT_PUBLIC)
    context = ssl.create_default_context()
    for number, address in enumerate(addresses, start=1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchRefused(TOO_SLOW)
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=urllib3.Timeout(connect=remaining, read=remaining),
            retries=False,
            maxsize=1,
            ssl_context=context,
            server_hostname=host,
        )
        try:
            return _request(pool, parts, deadline, max_bytes, headers)
        except ConnectTimeoutError:
            if number == len(addresses):
                raise FetchRefused(UNREACHABLE) from None
        except TLSError:
            raise FetchRefused(TLS) from None
        except (HTTPError, OSError):
            raise FetchRefused(FAILED) from None
        finally:
            pool.close()
    raise AssertionError("getaddrinfo returns at least one address")


def _resolve(host: str, port: int) -> list[str]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        # Said as a private address is: whether an internal name exists is nobody's business.
        raise FetchRefused(NOT_PUBLIC) from None
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))


def _request(
    pool: urllib3.HTTPSConnectionPool,
    parts: SplitResult,
    deadline: float,
    max_bytes: int,
    headers: Mapping[str, str],
) -> tuple[Mapping[str, str], bytes]:
    response = pool.urlopen(
        "GET",
        parts.path,
        # Compressed bodies could be a bomb of any size once decoded.
        headers={"Host": parts.netloc, **headers, "Accept-Encoding": "identity"},
        redirect=False,
        retries=False,
        preload_content=False,
        decode_content=False,
    )
    try:
        if 300 <= response.status < 400:
            raise FetchRefused(REDIRECT, response.status)
        if response.status != 200:
            raise FetchRefused(STATUS, response.status)
        if response.headers.get("Content-Encoding", "identity").lower() != "identity":
            raise FetchRefused(COMPRESSED)
        length = response.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            raise FetchRefused(TOO_LARGE)
        return urllib3.HTTPHeaderDict(response.headers), _read_body(response, deadline, max_bytes)
    finally:
        response.close()


def _read_body(response: urllib3.BaseHTTPResponse, deadline: float, max_bytes: int) -> bytes:
    body = bytearray()
    while True:
        if time.monotonic() > deadline:
            raise FetchRefused(TOO_SLOW)
        # read1 returns what one read of the socket gives, so the deadline is checked between
        # the drips of a slow server; read() would wait for all it asked for.
        data = response.read1(max_bytes + 1 - len(body))
        if not data:
            return bytes(body)
        body += data
        if len(body) > max_bytes:
            raise FetchRefused(TOO_LARGE)
