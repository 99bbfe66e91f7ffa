"""getTodos answers repeated reads from a per-worker cache of response bodies.

Every flush that adds, changes or deletes a todo gives its owner a new random
`users.todos_version` (the before_flush hook below), and the credential lookup in app.auth reads
that version in the same query as the credential. A cached body is keyed by user, version and
the query arguments, so it is served only while the list is exactly as it was when the body was
made, on every worker and every instance, since the version lives in the database. Changes made
outside the ORM (raw SQL on the todos table) must set a new version themselves.

A body is cached after it was computed from a version read before the list was: at worst it is
newer than its key, never older.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from itertools import chain

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.models import Todo, User
from app.models.user import new_list_version


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


@sa.event.listens_for(Session, "before_flush")
def _new_list_versions(session: Session, flush_context, instances) -> None:
    owners = {
        todo.owner_id
        for todo in chain(session.new, session.dirty, session.deleted)
        if isinstance(todo, Todo) and (todo in session.deleted or session.is_modified(todo))
    }
    owners.discard(None)
    if owners:
        session.execute(
            _NEW_VERSION, [{"owner": owner, "version": new_list_version()} for owner in owners]
        )


# Built once: this runs in every flush that touches a todo.
_NEW_VERSION = (
    sa.update(User.__table__)
    .where(User.__table__.c.id == sa.bindparam("owner"))
    .values(todos_version=sa.bindparam("version"))
)
