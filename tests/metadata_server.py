"""A real HTTPS server on 127.0.0.1 serving client ID metadata documents, for the tests that
fetch them: in process (tests/test_client_metadata.py, tests/test_oauth_metadata_clients.py)
and from gunicorn (tests/e2e/test_mcp_registration.py).

Its certificate comes from a test CA (the `ca` fixture) that SSL_CERT_FILE makes trusted
(`trusted_ca`). Its replies are set per path by each test: status, headers, body, chunked, or
slow (a byte at a time, or headers then silence). It records the connections it accepted, the
requests it answered and the SNI names it saw, so a test can tell a URL refused before any
connection from one refused after.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme

from app.oauth.client_metadata import ClientMetadata, fetch_client_metadata

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
JSON = {"Content-Type": "application/json"}


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    body: bytes = b""
    chunked: bool = False
    drip: float | None = None  # seconds between single bytes of the body
    hold: bool = False  # send the headers, then nothing until the test ends


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        self.server.owner.requests.append((self.path, self.headers.get("Host")))
        reply = self.server.owner.replies.get(self.path, Reply(status=404))
        released = self.server.owner.released
        # send_response would add a Date of its own, which the caching tests set themselves.
        self.send_response_only(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif "Content-Length" not in reply.headers:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.flush()
        if reply.hold:
            released.wait(30)
        elif reply.drip is not None:
            try:
                for byte in reply.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if released.wait(reply.drip):
                        break
            except OSError:
                self.server.owner.client_gone.set()
        elif reply.chunked:
            for start in range(0, len(reply.body), 4096):
                piece = reply.body[start : start + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(reply.body)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: MetadataServer

    def get_request(self):
        # The TLS handshake happens in the handler's thread, on first read, so a client that
        # refuses the certificate does not hold up the accepting thread.
        sock, address = super().get_request()
        return self.owner.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def verify_request(self, request, client_address) -> bool:
        self.owner.connections += 1
        return True

    def handle_error(self, request, client_address) -> None:
        pass  # clients that give up mid-reply are what these tests are about


class MetadataServer:
    """An HTTPS server on 127.0.0.1 with a certificate for `names` from `ca`."""

    def __init__(self, ca: trustme.CA, *names: str) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*names).configure_cert(self.context)
        self.server_names: list[str | None] = []
        self.context.sni_callback = lambda _sock, name, _context: self.server_names.append(name)
        self.replies: dict[str, Reply] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.connections = 0
        self.released = threading.Event()
        self.client_gone = threading.Event()  # a client hung up on a dripping reply
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        # shutdown() waits for the serving loop's next poll: keep that short.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self) -> MetadataServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()

    def url(self, path: str = "/client.json", host: str = "localhost") -> str:
        return f"https://{host}:{self.port}{path}"

    def origin(self, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}"

    def serve(self, path: str, reply: Reply) -> str:
        self.replies[path] = reply
        return self.url(path)

    def serve_document(self, path: str = "/client.json", **changes: object) -> str:
        """A good document at `path`, with `changes` (None removes a member)."""
        url = self.url(path)
        document = {**good_document(url), **changes}
        document = {key: value for key, value in document.items() if value is not None}
        return self.serve(path, Reply(body=json.dumps(document).encode()))

    def fetch(self, url: str, **kwargs) -> ClientMetadata:
        kwargs.setdefault("trusted_origins", [self.origin()])
        kwargs.setdefault("now", NOW)
        return fetch_client_metadata(url, **kwargs)


def good_document(url: str) -> dict[str, object]:
    return {
        "client_id": url,
        "client_name": "Example Assistant",
        "client_uri": "https://assistant.example/",
        "redirect_uris": ["https://assistant.example/callback", "http://127.0.0.1:7777/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "todos.read todos.write",
    }
