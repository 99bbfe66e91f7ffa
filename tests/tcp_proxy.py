"""A TCP proxy a test controls, to make a server fall silent the way a stalled network or proxy
does: connections stay open and accepted, but nothing gets through either way.

    with TcpProxy(("127.0.0.1", 5432)) as proxy:   # proxy.port forwards to the target
        proxy.go_silent()    # from now on bytes are swallowed, new connections accepted idle
        proxy.restore()      # silent connections are closed; new ones are forwarded again
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._silent = False
        self._sockets: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def go_silent(self) -> None:
        with self._lock:
            self._silent = True

    def restore(self) -> None:
        """Forward again, starting afresh: a connection whose bytes were swallowed is out of
        step with the server, so every open one is closed."""
        with self._lock:
            self._silent = False
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def close(self) -> None:
        self._closed = True
        _close(self._listener)
        self.restore()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                silent = self._silent
                self._sockets.add(client)
            if silent:
                continue  # accepted and left unanswered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.add(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                _close(sink)
                return
            with self._lock:
                silent = self._silent
            if silent:
                continue  # swallowed: the other side waits for an answer that never comes
            try:
                sink.sendall(data)
            except OSError:
                _close(source)
                return


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
