"""With REDIS_URL, every worker counts against the same limits."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import build_app
from tests.factories import make_key, make_user

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _redis_up(), reason="no Redis at 127.0.0.1:6379")


@pytest.fixture
def redis_db():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def test_two_workers_share_one_allowance(database_url, app, redis_db):
    # `app` is requested too, so the shared PostgreSQL database is emptied after the test.
    settings = {"ACTION_AUTH": "apikey", "API_RATE_LIMIT": "3 per minute", "REDIS_URL": REDIS_URL}
    one, two = build_app(database_url, **settings), build_app(database_url, **settings)
    with one.app_context():
        _, key = make_key(make_user("ada@example.com"))
    auth = {"Authorization": f"Bearer {key}"}
    statuses = [
        worker.test_client().get("/todos", headers=auth).status_code
        for worker in (one, two, one, two)
    ]
    assert statuses == [200, 200, 200, 429]
    # The count lives in Redis, where every worker and instance sees it.
    assert any(b"api" in key for key in redis_db.keys("*"))
    for worker in (one, two):
        with worker.app_context():
            from app.extensions import db

            db.engine.dispose()
