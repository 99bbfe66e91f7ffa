"""Client ID Metadata Documents: a client_id that is an https URL naming the client's metadata.

A client such as ChatGPT may sign in with a client_id like
`https://chatgpt.com/oauth/<id>/client.json` instead of a registered one
(draft-ietf-oauth-client-id-metadata-document, used by MCP). The server fetches that URL to
learn the client's name and redirect URIs. This module checks such a URL, fetches the document,
validates it and says until when it may be cached. It knows nothing of the database or of
Flask: the OAuth server decides what to do with the result.

The URL is chosen by whoever starts a sign-in, so it is fetched by app/platform/safe_fetch.py:
public addresses only (unless its origin is trusted), pinned to the address checked, https with
the certificate checked, no redirects, no status but 200, at most MAX_DOCUMENT_BYTES, within one
deadline. The document must be served as JSON.

A document is accepted only for a public client: no secret can be shared through a public
document, so the client authenticates with `none` and PKCE. Its freshness comes from the HTTP
caching headers, within [0, MAX_FRESHNESS]; errors and invalid documents are never cacheable,
so they raise instead of returning.

Refusals raise ClientMetadataError with a short ASCII sentence naming the rule broken. It never
quotes the URL or the document: both are the requester's text, and the sentence ends up on a page
and in an OAuth error_description.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit

from werkzeug.datastructures import ResponseCacheControl
from werkzeug.http import parse_cache_control_header, parse_date, parse_options_header

from app.platform import safe_fetch

MAX_DOCUMENT_BYTES = 64 * 1024  # the MCP spec suggests 5 KB, but claude.ai's document is larger
FETCH_TIMEOUT = 5.0  # seconds, the whole fetch: DNS, connect, TLS, headers, body
DEFAULT_FRESHNESS = timedelta(hours=1)  # no caching headers
MAX_FRESHNESS = timedelta(hours=24)
MAX_URL_LENGTH = 1000
MAX_REDIRECT_URIS = 20
MAX_CLIENT_NAME = 100

# RFC 3986's characters: unreserved, reserved and '%'. Anything else (spaces, quotes, backslash,
# non-ASCII) makes a URL that clients and servers read differently.
_URI_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DOT_SEGMENTS = {".", "..", "%2e", "%2e%2e", ".%2e", "%2e."}
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}  # as urlsplit gives hostname
SHARED_SECRET_METHODS = {"client_secret_basic", "client_secret_post", "client_secret_jwt"}


class ClientMetadataError(Exception):
    """Why a client_id URL or its document was refused. str(error) is a short ASCII sentence
    naming the rule broken, safe to show on a page and in an OAuth error_description (only
    characters %x20-21 / %x23-5B / %x5D-7E: no double quote, no backslash) and never quoting
    the fetched content or the URL."""


@dataclass(frozen=True)
class ClientMetadata:
    client_id: str
    client_name: str  # from the document, without control characters, at most 100 long
    redirect_uris: tuple[str, ...]
    scope: str | None  # the document's `scope`, if any; the caller intersects it with its own
    client_uri: str | None  # only an https URL with a host
    fresh_until: datetime  # UTC-aware: when fetched plus the freshness the headers allow


def is_client_id_url(value: str) -> bool:
    """Whether a client_id is meant as a metadata document URL rather than a registered id."""
    return value[:8].lower() == "https://"


def check_client_id_url(url: str) -> str:
    """`url` unchanged if it may name a client metadata document (the draft's section 3), else
    ClientMetadataError. Comparisons with it are byte for byte, so nothing is normalised."""
    if len(url) > MAX_URL_LENGTH:
        raise ClientMetadataError(f"The client_id URL is longer than {MAX_URL_LENGTH} characters.")
    if not _URI_CHARACTERS.fullmatch(url) or _BAD_PERCENT.search(url):
        raise ClientMetadataError("The client_id URL has characters a URL may not contain.")
    parts = _split(url)
    if parts.scheme.lower() != "https":
        raise ClientMetadataError("The client_id URL must use https.")
    if "#" in url:
        raise ClientMetadataError("The client_id URL must not have a fragment.")
    if "?" in url:
        raise ClientMetadataError("The client_id URL must not have a query.")
    if "@" in parts.netloc:
        raise ClientMetadataError("The client_id URL must not have a user name or password.")
    if not parts.hostname:
        raise ClientMetadataError("The client_id URL has no host.")
    if parts.port == 0:
        raise ClientMetadataError("The client_id URL has an invalid port.")
    if not parts.path:
        raise ClientMetadataError("The client_id URL must have a path.")
    if any(segment.lower() in _DOT_SEGMENTS for segment in parts.path.split("/")):
        raise ClientMetadataError("The client_id URL must not have . or .. path segments.")
    return url


def url_origin(url: str) -> str:
    """`https://host[:port]` of an https URL: host in lower case, port 443 left out, as
    `trusted_origins` entries are compared."""
    _split(url)
    return safe_fetch.origin(url)


def fetch_client_metadata(
    url: str,
    *,
    trusted_origins: Collection[str] = (),
    now: datetime | None = None,
    timeout: float = FETCH_TIMEOUT,
    user_agent: str = "OAuth client metadata",
) -> ClientMetadata:
    """The validated metadata document at `url`; ClientMetadataError on any failure.
    `now` (UTC-aware, default the current time) is when the document counts as fetched."""
    check_client_id_url(url)
    trusted = {_trusted_origin(origin) for origin in trusted_origins}
    try:
        headers, body = safe_fetch.fetch(
            url,
            trusted=url_origin(url) in trusted,
            timeout=timeout,
            max_bytes=MAX_DOCUMENT_BYTES,
            headers={"Accept": "application/json", "User-Agent": user_agent},
        )
    except safe_fetch.FetchRefused as refused:
        raise ClientMetadataError(_refusal(refused)) from None
    fetched_at = now if now is not None else datetime.now(UTC)
    return _validate(url, _parse_json(headers, body), fetched_at + freshness(headers, fetched_at))


def _trusted_origin(origin: str) -> str:
    # A setting, not a requester's input: a bad entry is the operator's to fix, said plainly.
    try:
        if not is_client_id_url(origin):
            raise ClientMetadataError("not https")
        return url_origin(origin)
    except ClientMetadataError:
        raise ValueError(
            "Each trusted origin must be an https URL such as https://host:8443."
        ) from None


def freshness(headers: Mapping[str, str], now: datetime) -> timedelta:
    """How long a response with these headers may be reused (RFC 9111 section 4.2.1, for a
    shared cache as this server is one for all its users), clamped to [0, MAX_FRESHNESS]."""
    control = parse_cache_control_header(headers.get("Cache-Control"), cls=ResponseCacheControl)
    if control.no_store or control.no_cache:
        return timedelta(0)
    if control.s_maxage is not None:
        lifetime = timedelta(seconds=control.s_maxage)
    elif control.max_age is not None:
        lifetime = timedelta(seconds=control.max_age)
    elif "Expires" in headers:
        # An Expires that does not parse means already expired (RFC 9111 section 5.3).
        expires = parse_date(headers["Expires"])
        date = parse_date(headers.get("Date")) or now
        lifetime = expires - date if expires else timedelta(0)
    else:
        lifetime = DEFAULT_FRESHNESS
    age = headers.get("Age", "")
    if age.isdigit():
        lifetime -= timedelta(seconds=int(age))
    return max(timedelta(0), min(lifetime, MAX_FRESHNESS))


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a port that is no number
    except ValueError:
        raise ClientMetadataError("The client_id URL is not a valid URL.") from None
    return parts


def _refusal(refused: safe_fetch.FetchRefused) -> str:
    return {
        # One sentence for both, so that nobody learns which names resolve inside.
        safe_fetch.NOT_PUBLIC: (
            "The client_id URL's host is not a public internet address, or does not resolve."
        ),
        safe_fetch.UNREACHABLE: "The client metadata document's server could not be reached.",
        safe_fetch.TLS: (
            "The client metadata document's server has no valid TLS certificate for its host."
        ),
        safe_fetch.FAILED: "The client metadata document could not be fetched.",
        safe_fetch.REDIRECT: (
            "The client metadata document URL redirects; redirects are not followed."
        ),
        safe_fetch.STATUS: (
            f"The client metadata document URL answered with status {refused.status}, not 200."
        ),
        safe_fetch.COMPRESSED: "The client metadata document must not be compressed.",
        safe_fetch.TOO_LARGE: (
            f"The client metadata document is larger than {MAX_DOCUMENT_BYTES} bytes."
        ),
        safe_fetch.TOO_SLOW: "The client metadata document took too long to fetch.",
    }[refused.reason]


def _parse_json(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    mimetype = parse_options_header(headers.get("Content-Type"))[0].lower()
    kind, _, subtype = mimetype.partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):
        raise ClientMetadataError("The client metadata document is not served as JSON.")
    try:
        document = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ClientMetadataError("The client metadata document is not valid UTF-8 JSON.") from None
    if not isinstance(document, dict):
        raise ClientMetadataError("The client metadata document is not a JSON object.")
    return document


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two client_id or redirect_uris members would be read differently by different parsers.
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ClientMetadataError("The client metadata document has a member twice.")
    return dict(pairs)


def _validate(url: str, document: dict[str, Any], fresh_until: datetime) -> ClientMetadata:
    if document.get("client_id") != url:
        raise ClientMetadataError(
            "The client metadata document's client_id is not exactly its own URL."
        )
    _check_public_client(document)
    _check_includes(document, "grant_types", "authorization_code")
    _check_includes(document, "response_types", "code")
    scope = document.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise ClientMetadataError("The client metadata document's scope is not a string.")
    return ClientMetadata(
        client_id=url,
        client_name=clean_client_name(document.get("client_name"), urlsplit(url).hostname or ""),
        redirect_uris=_redirect_uris(document.get("redirect_uris")),
        scope=scope,
        client_uri=_client_uri(document.get("client_uri")),
        fresh_until=fresh_until,
    )


def _check_public_client(document: dict[str, Any]) -> None:
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise ClientMetadataError("A client metadata document must not carry a client secret.")
    method = document.get("token_endpoint_auth_method")
    supported = document.get("token_endpoint_auth_methods_supported")
    if method is not None and not isinstance(method, str):
        raise ClientMetadataError(
            "The client metadata document's token_endpoint_auth_method is not a string."
        )
    if method in SHARED_SECRET_METHODS:
        raise ClientMetadataError(
            "A client metadata document must not use a shared-secret authentication method."
        )
    # With no method named, none is meant: a document cannot hold the secret that RFC 7591's
    # default, client_secret_basic, needs. ChatGPT's document names private_key_jwt but lists
    # none among the methods it supports, which is enough for a public client.
    offers_none = (
        method == "none"
        or (isinstance(supported, list) and "none" in supported)
        or (method is None and supported is None)
    )
    if not offers_none:
        raise ClientMetadataError(
            "This server supports public clients with PKCE only, "
            "and the client does not offer the none authentication method."
        )


def _check_includes(document: dict[str, Any], member: str, needed: str) -> None:
    if member not in document:
        return
    values = document[member]
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise ClientMetadataError(f"The client metadata document's {member} is not a list.")
    if needed not in values:
        raise ClientMetadataError(
            f"The client metadata document's {member} does not include {needed}."
        )


def _redirect_uris(values: object) -> tuple[str, ...]:
    if not isinstance(values, list) or not values:
        raise ClientMetadataError("The client metadata document must list its redirect_uris.")
    if len(values) > MAX_REDIRECT_URIS:
        raise ClientMetadataError(
            f"The client metadata document lists more than {MAX_REDIRECT_URIS} redirect_uris."
        )
    for value in values:
        if not isinstance(value, str) or not is_redirect_uri(value):
            raise ClientMetadataError(
                "The client metadata document has a redirect_uri that is not an https URL "
                "or an http URL on a loopback host, without fragment."
            )
    return tuple(values)


def is_redirect_uri(value: str) -> bool:
    """Whether a client that names itself may use `value` as a redirect URI: RFC 3986's
    characters only (an IDN host in its A-label, xn--, form), https, or http on a loopback
    host, no fragment."""
    if len(value) > MAX_URL_LENGTH or not _URI_CHARACTERS.fullmatch(value) or "#" in value:
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a port that is no number
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if not parts.hostname:
        return False
    return scheme == "https" or (scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def display_host(url: str) -> str:
    """The host (and port) of `url` as a consent or admin page shows it: in ASCII, an
    internationalised name in its A-label (xn--) form, so that a lookalike such as chаtgpt.com
    with a Cyrillic а cannot pass for the real one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ascii(url)[1:-1]
    host = parts.hostname or ""
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        host = host.encode("ascii", "backslashreplace").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    return host + (f":{port}" if port is not None else "")


def clean_client_name(value: object, fallback: str) -> str:
    """A client's name for the consent page: its own words, made safe to show."""
    if value is None:
        return fallback
    if not isinstance(value, str):
        raise ClientMetadataError("The client metadata document's client_name is not a string.")
    # Control and format characters (newlines, bidirectional overrides) could make the name on
    # the consent page read as something else. Line breaks and tabs become spaces.
    kept = "".join(
        " " if character.isspace() else character
        for character in value
        if character.isspace() or not unicodedata.category(character).startswith("C")
    )
    name = " ".join(kept.split())[:MAX_CLIENT_NAME].strip()
    return name or fallback


def _client_uri(value: object) -> str | None:
    if not isinstance(value, str) or not is_client_id_url(value) or len(value) > MAX_URL_LENGTH:
        return None
    if not _URI_CHARACTERS.fullmatch(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.hostname and "@" not in parts.netloc else None
