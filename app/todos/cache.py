"""getTodos answers repeated reads from a per-worker cache of response bodies.

Any change to a user's todos gives the user a new random `users.todos_version`, in the same
transaction: triggers on the todos table do it (migration 0004), so it holds for every way in,
the API, the models, a Core statement or SQL typed in a console. The credential lookup in
app.auth reads that version in the same query as the credential. A cached body is keyed by
user, version and the query arguments, so it is served only while the list is exactly as it
was when the body was made, on every worker and every instance, since the version lives in
the database.

A body is cached after it was computed from a version read before the list was: at worst it is
newer than its key, never older.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from flask import current_app


class ResponseCache:
    """Least-recently-used bodies, bounded by their total size."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()  # gthread workers share one cache

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._bodies.pop(key, None)
            self._size += len(body) - (len(old) if old else 0)
            self._bodies[key] = body
            while self._size > self.max_bytes:
                _, evicted = self._bodies.popitem(last=False)
                self._size -= len(evicted)


def list_cache() -> ResponseCache:
    # One per app, so that the many apps of a test run never share entries. LIST_CACHE_BYTES
    # (default 8 MiB a worker: a page is at most ~90,000 characters) of 0 keeps nothing.
    cache = current_app.extensions.get("todo_list_cache")
    if cache is None:
        cache = ResponseCache(current_app.config["LIST_CACHE_BYTES"])
        current_app.extensions["todo_list_cache"] = cache
    return cache
