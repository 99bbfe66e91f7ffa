"""Fetching Client ID Metadata Documents: URL rules, request forgery guards, document rules.

Documents are served by a real HTTPS server on 127.0.0.1 (tests/metadata_server.py).
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from app.oauth.client_metadata import (
    DEFAULT_FRESHNESS,
    MAX_DOCUMENT_BYTES,
    MAX_FRESHNESS,
    ClientMetadata,
    ClientMetadataError,
    check_client_id_url,
    fetch_client_metadata,
    is_client_id_url,
)
from app.platform.safe_fetch import is_public_address
from tests.metadata_server import JSON, NOW, MetadataServer, Reply, good_document

# What an OAuth error_description may hold (RFC 6749 section 5.2).
SAFE_MESSAGE = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]+")


def refusal(action: Callable[[], object], *secrets: str) -> str:
    """The message of the ClientMetadataError `action` raises, checked to be safe to show:
    the characters an error_description may hold, and none of `secrets` (the URL, the body)."""
    with pytest.raises(ClientMetadataError) as caught:
        action()
    message = str(caught.value)
    assert SAFE_MESSAGE.fullmatch(message), message
    for secret in secrets:
        assert secret not in message
    return message


@pytest.fixture
def server(ca: trustme.CA, trusted_ca: None) -> Iterator[MetadataServer]:
    with MetadataServer(ca, "localhost", "127.0.0.1") as running:
        yield running


# --- URL rules -------------------------------------------------------------------------------


def test_is_client_id_url_is_any_https_url() -> None:
    assert is_client_id_url("https://chatgpt.com/oauth/abc/client.json")
    assert is_client_id_url("HTTPS://chatgpt.com/client.json")
    assert not is_client_id_url("http://chatgpt.com/client.json")
    assert not is_client_id_url("3f9c2e4a-client")
    assert not is_client_id_url("")


@pytest.mark.parametrize(
    "url",
    [
        "https://chatgpt.com/oauth/abc123/client.json",
        "https://Example.COM:8443/a/b",
        "https://example.com/",
        "https://[2001:db8::1]/client",
        "https://example.com/a%20b/c",
    ],
)
def test_check_client_id_url_returns_a_good_url_unchanged(url: str) -> None:
    assert check_client_id_url(url) is url


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://example.com/client.json", "https"),
        ("ftp://example.com/client.json", "https"),
        ("example.com/client.json", "https"),
        ("https:///client.json", "no host"),
        ("https://example.com", "path"),
        ("https://example.com/a/./client.json", ". or .."),
        ("https://example.com/a/../client.json", ". or .."),
        ("https://example.com/a/%2E%2e/client.json", ". or .."),
        ("https://example.com/..", ". or .."),
        ("https://example.com/client.json#me", "fragment"),
        ("https://example.com/client.json#", "fragment"),
        ("https://user@example.com/client.json", "user name"),
        ("https://user:pw@example.com/client.json", "user name"),
        ("https://example.com/client.json?v=1", "query"),
        ("https://example.com/client.json?", "query"),
        ("https://example.com/" + "a" * 1000, "longer than 1000"),
        ("https://example.com/client json", "characters"),
        ('https://example.com/"client"', "characters"),
        ("https://example.com/a\\b", "characters"),
        ("https://example.com/caf\u00e9", "characters"),
        ("https://example.com/a\tb", "characters"),
        ("https://example.com/a%zzb", "characters"),
        ("https://example.com:99999/client.json", "not a valid URL"),
        ("https://example.com:port/client.json", "not a valid URL"),
        ("https://example.com:0/client.json", "port"),
        ("https://[::1/client.json", "not a valid URL"),
    ],
)
def test_check_client_id_url_refuses_each_rule(url: str, rule: str) -> None:
    assert rule in refusal(lambda: check_client_id_url(url), url)


# --- Addresses that are not public ---------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "2130706433", "127.1"])
def test_loopback_hosts_are_refused_before_any_connection(
    server: MetadataServer, host: str
) -> None:
    # A good document for this very URL waits there: only the address check stands in the way.
    url = server.url(host=host)
    server.serve_document(client_id=url)
    message = refusal(lambda: fetch_client_metadata(url, now=NOW), url)
    assert "not a public internet address" in message
    assert server.connections == 0


@pytest.mark.parametrize(
    "host",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "[fd00::1]",
        "[fe80::1]",
        "[::ffff:10.0.0.1]",
        "[::ffff:127.0.0.1]",
        "[64:ff9b::a00:1]",  # NAT64 for 10.0.0.1
        "[2002:a00:1::1]",  # 6to4 for 10.0.0.1
        "[ff02::1]",
        "[::]",
    ],
)
def test_private_and_special_addresses_are_refused(host: str) -> None:
    url = f"https://{host}/client.json"
    started = time.monotonic()
    message = refusal(lambda: fetch_client_metadata(url, now=NOW, timeout=3), url)
    assert "not a public internet address" in message
    assert time.monotonic() - started < 1  # refused, not a connection that timed out


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),  # NAT64 for 8.8.8.8
        ("2002:808:808::1", True),  # 6to4 for 8.8.8.8
        ("::ffff:192.168.0.1", False),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 for 169.254.169.254
        ("2002:7f00:1::1", False),  # 6to4 for 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),  # Teredo for 10.0.0.1
        ("::a00:1", False),  # IPv4-compatible, deprecated
        ("fe80::1%1", False),
        ("192.0.2.1", False),  # documentation
        ("198.18.0.1", False),  # benchmarking
        ("fec0::1", False),  # site-local, deprecated
    ],
)
def test_public_addresses_are_told_apart(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_a_host_that_does_not_resolve_is_refused_as_a_private_one_is() -> None:
    # An outsider must not learn which internal names exist by telling the two apart.
    url = "https://client-metadata.invalid/client.json"
    unresolved = refusal(lambda: fetch_client_metadata(url, timeout=3), url)
    private_url = "https://10.0.0.1/client.json"
    private = refusal(lambda: fetch_client_metadata(private_url, timeout=3), private_url)
    assert unresolved == private
    assert "not a public internet address" in unresolved


def test_trust_is_for_the_listed_origin_only(server: MetadataServer) -> None:
    url = server.serve_document()
    other_port = f"https://localhost:{server.port + 1}"
    message = refusal(lambda: server.fetch(url, trusted_origins=[other_port]), url)
    assert "not a public internet address" in message
    assert server.fetch(url, trusted_origins=[f"HTTPS://LocalHost:{server.port}/"]).client_id == url
    assert server.connections == 1


# --- A good document --------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["http://localhost:8443", "localhost:8443", "https://[::1"])
def test_a_trusted_origin_that_is_no_https_origin_is_a_setting_error(origin: str) -> None:
    with pytest.raises(ValueError, match="trusted origin"):
        fetch_client_metadata("https://example.com/client.json", trusted_origins=[origin])


def test_a_good_document_is_accepted_with_all_its_fields(server: MetadataServer) -> None:
    url = server.serve_document()
    assert server.fetch(url) == ClientMetadata(
        client_id=url,
        client_name="Example Assistant",
        redirect_uris=("https://assistant.example/callback", "http://127.0.0.1:7777/cb"),
        scope="todos.read todos.write",
        client_uri="https://assistant.example/",
        fresh_until=NOW + DEFAULT_FRESHNESS,
    )
    # One connection, to the resolved address, naming the URL's host in SNI and Host.
    assert server.requests == [("/client.json", f"localhost:{server.port}")]
    assert server.server_names == ["localhost"]


def test_a_minimal_document_gets_the_host_as_its_name(server: MetadataServer) -> None:
    url = server.serve(
        "/minimal.json",
        Reply(body=json.dumps({"client_id": server.url("/minimal.json"),
                               "redirect_uris": ["https://a.example/cb"]}).encode()),
    )  # fmt: skip
    metadata = server.fetch(url)
    assert metadata.client_name == "localhost"
    assert metadata.scope is None
    assert metadata.client_uri is None


def test_chatgpt_style_document_with_none_among_supported_methods_is_accepted(
    server: MetadataServer,
) -> None:
    url = server.serve_document(
        token_endpoint_auth_method="private_key_jwt",
        token_endpoint_auth_methods_supported=["none", "private_key_jwt"],
    )
    assert server.fetch(url).client_id == url
    url = server.serve_document(
        "/listed.json",
        token_endpoint_auth_method=None,
        token_endpoint_auth_methods_supported=["none", "private_key_jwt"],
    )
    assert server.fetch(url).client_id == url


@pytest.mark.parametrize(
    "changes",
    [
        {"token_endpoint_auth_method": "private_key_jwt"},
        {
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        },
        {"token_endpoint_auth_method": None, "token_endpoint_auth_methods_supported": ["tls"]},
    ],
)
def test_a_client_without_the_none_method_is_refused(
    server: MetadataServer, changes: dict[str, object]
) -> None:
    url = server.serve_document(**changes)
    assert "public clients with PKCE only" in refusal(lambda: server.fetch(url), url)


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"client_secret": "s3cret-value"}, "secret"),
        ({"client_secret_expires_at": 0}, "secret"),
        ({"token_endpoint_auth_method": "client_secret_post"}, "shared-secret"),
        ({"token_endpoint_auth_method": "client_secret_basic"}, "shared-secret"),
        ({"token_endpoint_auth_method": "client_secret_jwt"}, "shared-secret"),
        ({"token_endpoint_auth_method": ["none"]}, "not a string"),
        ({"grant_types": ["client_credentials"]}, "authorization_code"),
        ({"grant_types": "authorization_code"}, "not a list"),
        ({"response_types": ["token"]}, "code"),
        ({"scope": ["todos.read"]}, "scope"),
        ({"client_name": {"en": "Name"}}, "client_name"),
    ],
)
def test_document_rules_are_enforced(
    server: MetadataServer, changes: dict[str, object], rule: str
) -> None:
    url = server.serve_document(**changes)
    assert rule in refusal(lambda: server.fetch(url), url, "s3cret-value")


@pytest.mark.parametrize(
    "client_id",
    [
        None,
        "/client.json",
        "{url}/",
        "{url}#",
        "{upper}",
        "https://localhost/client.json",
        "https://other.example/client.json",
    ],
)
def test_the_document_must_name_its_own_url_exactly(
    server: MetadataServer, client_id: str | None
) -> None:
    url = server.url()
    upper = url.replace("localhost", "LOCALHOST")
    value = client_id.format(url=url, upper=upper) if client_id else None
    server.serve_document(client_id=value)
    assert "not exactly its own URL" in refusal(lambda: server.fetch(url), url)


@pytest.mark.parametrize(
    "redirect_uris",
    [
        None,
        [],
        "https://a.example/cb",
        [7],
        ["http://a.example/cb"],
        ["http://localhost.evil.example/cb"],
        ["https://a.example/cb#done"],
        ["/cb"],
        ["https:///cb"],
        ["myapp://cb"],
        ["javascript:alert(1)"],
        ['https://a.example/"cb'],
        ["https://a.example/" + "c" * 1000],
        [f"https://a.example/{n}" for n in range(21)],
    ],
)
def test_bad_redirect_uris_are_refused(server: MetadataServer, redirect_uris: object) -> None:
    url = server.serve_document(redirect_uris=redirect_uris)
    assert "redirect_uri" in refusal(lambda: server.fetch(url), url)


def test_loopback_http_and_twenty_https_redirect_uris_are_accepted(
    server: MetadataServer,
) -> None:
    loopback = ["http://localhost:3000/cb", "http://127.0.0.1/cb", "http://[::1]:9/cb"]
    url = server.serve_document(redirect_uris=loopback)
    assert server.fetch(url).redirect_uris == tuple(loopback)
    twenty = [f"https://a.example/{n}" for n in range(20)]
    url = server.serve_document("/twenty.json", redirect_uris=twenty)
    assert server.fetch(url).redirect_uris == tuple(twenty)


@pytest.mark.parametrize(
    ("client_name", "shown"),
    [
        ("  Example\u202e Assistant\u0000\n  ", "Example Assistant"),
        ("Line\r\nbreak\tand\u2028separator", "Line break and separator"),
        ("N" * 150, "N" * 100),
        ("", "localhost"),
        ("\u200b\u0007 ", "localhost"),
        (None, "localhost"),
    ],
)
def test_client_name_is_cleaned(
    server: MetadataServer, client_name: str | None, shown: str
) -> None:
    url = server.serve_document(client_name=client_name)
    assert server.fetch(url).client_name == shown


@pytest.mark.parametrize(
    ("client_uri", "kept"),
    [
        ("https://assistant.example/about", True),
        ("http://assistant.example/about", False),
        ("javascript:alert(1)", False),
        ("https://user@assistant.example/", False),
        ("https://", False),
        (42, False),
    ],
)
def test_client_uri_is_kept_only_as_an_https_url(
    server: MetadataServer, client_uri: object, kept: bool
) -> None:
    url = server.serve_document(client_uri=client_uri)
    assert server.fetch(url).client_uri == (client_uri if kept else None)


# --- The fetch --------------------------------------------------------------------------------


def test_http_is_refused_even_for_a_trusted_origin(server: MetadataServer) -> None:
    server.serve_document()
    url = f"http://localhost:{server.port}/client.json"
    assert "https" in refusal(lambda: server.fetch(url), url)  # its https origin is trusted
    assert server.connections == 0


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_refused_not_followed(server: MetadataServer, status: int) -> None:
    target = server.serve_document("/target.json")
    url = server.serve("/client.json", Reply(status=status, headers={"Location": target}))
    assert "redirects are not followed" in refusal(lambda: server.fetch(url), url)
    assert [path for path, _ in server.requests] == ["/client.json"]


@pytest.mark.parametrize("status", [201, 204, 404, 500])
def test_statuses_other_than_200_are_refused(server: MetadataServer, status: int) -> None:
    url = server.url()
    body = json.dumps(good_document(url)).encode()
    server.serve("/client.json", Reply(status=status, body=body if status != 204 else b""))
    assert f"status {status}" in refusal(lambda: server.fetch(url), url)


def test_a_certificate_for_another_name_is_refused(ca: trustme.CA, trusted_ca: None) -> None:
    with MetadataServer(ca, "other.example") as other:
        url = other.serve_document()
        assert "TLS certificate" in refusal(lambda: other.fetch(url), url)
        assert other.requests == []


def test_the_certificate_is_checked_for_the_urls_name_not_the_address(
    ca: trustme.CA, trusted_ca: None
) -> None:
    # The connection goes to 127.0.0.1 either way; only the name in the URL differs.
    with MetadataServer(ca, "localhost") as named:
        by_name = named.serve_document()
        assert named.fetch(by_name).client_id == by_name
        by_address = named.url(host="127.0.0.1")
        named.serve_document(client_id=by_address)
        message = refusal(
            lambda: named.fetch(by_address, trusted_origins=[named.origin("127.0.0.1")]),
            by_address,
        )
        assert "TLS certificate" in message


def test_a_certificate_from_an_untrusted_ca_is_refused(
    server: MetadataServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    url = server.serve_document()
    assert "TLS certificate" in refusal(lambda: server.fetch(url), url)


def test_a_document_of_exactly_the_limit_is_accepted(server: MetadataServer) -> None:
    url = server.url()
    body = json.dumps(good_document(url)).encode()
    server.serve("/client.json", Reply(body=body + b" " * (MAX_DOCUMENT_BYTES - len(body))))
    assert server.fetch(url).client_id == url


def test_an_oversized_content_length_is_refused(server: MetadataServer) -> None:
    url = server.url()
    body = json.dumps(good_document(url)).encode()
    server.serve("/client.json", Reply(body=body + b" " * (MAX_DOCUMENT_BYTES + 1 - len(body))))
    assert "larger than 65536 bytes" in refusal(lambda: server.fetch(url), url)


def test_an_oversized_chunked_body_is_refused(server: MetadataServer) -> None:
    url = server.url()
    body = json.dumps(good_document(url)).encode()
    padded = body + b" " * (MAX_DOCUMENT_BYTES * 4)
    server.serve("/client.json", Reply(body=padded, chunked=True))
    assert "larger than 65536 bytes" in refusal(lambda: server.fetch(url), url)


def test_a_small_chunked_body_is_accepted(server: MetadataServer) -> None:
    url = server.url()
    server.serve("/client.json", Reply(body=json.dumps(good_document(url)).encode(), chunked=True))
    assert server.fetch(url).client_id == url


@pytest.mark.parametrize("slow", [Reply(drip=0.05), Reply(hold=True)])
def test_a_slow_server_is_cut_off_at_the_deadline(server: MetadataServer, slow: Reply) -> None:
    url = server.url()
    slow.body = json.dumps(good_document(url)).encode()
    server.serve("/client.json", slow)
    started = time.monotonic()
    assert "too long" in refusal(lambda: server.fetch(url, timeout=0.5), url)
    assert time.monotonic() - started < 1.5


def test_the_fetch_hangs_up_on_a_dripping_server_after_the_deadline(
    server: MetadataServer,
) -> None:
    # The caller stops waiting at the deadline; the fetch behind it must stop reading too, or
    # each slow server would keep a thread and a connection busy for as long as it likes.
    url = server.url()
    body = json.dumps(good_document(url)).encode()
    server.serve("/client.json", Reply(body=body, drip=0.02))  # ~9 s for all of it
    refusal(lambda: server.fetch(url, timeout=0.3), url)
    assert server.client_gone.wait(2)


def test_a_server_that_accepts_but_never_answers_is_cut_off(
    ca: trustme.CA, trusted_ca: None
) -> None:
    # A listening socket nobody accepts from: the TCP handshake completes in the kernel, the
    # TLS handshake never does.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"https://localhost:{silent.getsockname()[1]}/client.json"
        origin = url.removesuffix("/client.json")
        started = time.monotonic()
        message = refusal(
            lambda: fetch_client_metadata(url, trusted_origins=[origin], timeout=0.5), url
        )
        assert "too long" in message
        assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("headers", "body", "rule"),
    [
        ({"Content-Type": "text/html"}, b"<html>PAGE-BODY</html>", "not served as JSON"),
        ({"Content-Type": "text/plain"}, b'{"a": 1}', "not served as JSON"),
        ({}, b'{"a": 1}', "not served as JSON"),
        (JSON, b"PAGE-BODY not json", "not valid UTF-8 JSON"),
        (JSON, b'{"client_id": "\xff\xfe"}', "not valid UTF-8 JSON"),
        (JSON, b'{"client_id": "a", "client_id": "b"}', "member twice"),
        (JSON, b"[" * 30000 + b"]" * 30000, "not valid UTF-8 JSON"),
        (JSON, b'["PAGE-BODY"]', "not a JSON object"),
        (JSON, b'"PAGE-BODY"', "not a JSON object"),
        ({**JSON, "Content-Encoding": "gzip"}, b"PAGE-BODY", "compressed"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_refused(
    server: MetadataServer, headers: dict[str, str], body: bytes, rule: str
) -> None:
    url = server.serve("/client.json", Reply(headers=headers, body=body))
    assert rule in refusal(lambda: server.fetch(url), url, "PAGE-BODY")


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON", "application/client-metadata+json"],
)
def test_json_content_types_are_accepted(server: MetadataServer, content_type: str) -> None:
    url = server.url()
    body = json.dumps(good_document(url)).encode()
    server.serve("/client.json", Reply(headers={"Content-Type": content_type}, body=body))
    assert server.fetch(url).client_id == url


# --- Caching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "fresh_for"),
    [
        ({}, DEFAULT_FRESHNESS),
        ({"Cache-Control": "max-age=600"}, timedelta(seconds=600)),
        ({"Cache-Control": "public, max-age=600, s-maxage=60"}, timedelta(seconds=60)),
        ({"Cache-Control": "max-age=600", "Age": "100"}, timedelta(seconds=500)),
        ({"Cache-Control": "max-age=600", "Age": "900"}, timedelta(0)),
        ({"Cache-Control": "max-age=0"}, timedelta(0)),
        ({"Cache-Control": "no-store, max-age=600"}, timedelta(0)),
        ({"Cache-Control": "no-cache, max-age=600"}, timedelta(0)),
        ({"Cache-Control": "max-age=31536000"}, MAX_FRESHNESS),
        (
            {"Date": "Sun, 01 Mar 2026 10:00:00 GMT", "Expires": "Sun, 01 Mar 2026 10:30:00 GMT"},
            timedelta(minutes=30),
        ),
        ({"Expires": "Sun, 01 Mar 2026 14:00:00 GMT"}, timedelta(hours=2)),
        ({"Expires": "Sun, 01 Mar 2026 11:00:00 GMT"}, timedelta(0)),
        ({"Expires": "0"}, timedelta(0)),
        ({"Expires": "Sun, 01 Mar 2026 14:00:00 GMT", "Cache-Control": "max-age=60"},
         timedelta(seconds=60)),
    ],
)  # fmt: skip
def test_freshness_follows_the_caching_headers(
    server: MetadataServer, headers: dict[str, str], fresh_for: timedelta
) -> None:
    url = server.url()
    body = json.dumps(good_document(url)).encode()
    server.serve("/client.json", Reply(headers={**JSON, **headers}, body=body))
    assert server.fetch(url).fresh_until == NOW + fresh_for


def test_fresh_until_defaults_to_the_time_of_the_fetch(server: MetadataServer) -> None:
    url = server.serve_document()
    before = datetime.now(UTC)
    fresh_until = server.fetch(url, now=None).fresh_until
    assert before + DEFAULT_FRESHNESS <= fresh_until <= datetime.now(UTC) + DEFAULT_FRESHNESS
