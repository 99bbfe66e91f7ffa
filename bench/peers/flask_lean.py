"""Flask with SQLAlchemy Core and the json module, no schema library: see bench/peers.

Served by gunicorn with the app's own config: `bench.peers.flask_lean:create_app()`.
"""

from __future__ import annotations

import json
import os

import sqlalchemy as sa
from flask import Flask, Response, request

from bench.peers import PAGE, UTCDateTime, bearer, digest, now, sync_url

metadata = sa.MetaData()
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer),
    sa.Column("digest", sa.String),
    sa.Column("expires_at", UTCDateTime()),
    sa.Column("revoked_at", UTCDateTime()),
)
todos = sa.Table(
    "todos",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner_id", sa.Integer),
    sa.Column("title", sa.String),
    sa.Column("notes", sa.String),
    sa.Column("done", sa.Boolean),
    sa.Column("due", sa.Date),
    sa.Column("created_at", UTCDateTime()),
    sa.Column("updated_at", UTCDateTime()),
)
KEY = sa.select(api_keys).where(api_keys.c.digest == sa.bindparam("digest"))
PAGE_OF = (
    sa.select(todos)
    .where(todos.c.owner_id == sa.bindparam("owner"), todos.c.done.is_(False))
    .order_by(todos.c.id)
    .limit(PAGE + 1)
)


def create_app() -> Flask:
    engine = sa.create_engine(sync_url(os.environ["DATABASE_URL"]), pool_size=5, max_overflow=0)
    app = Flask(__name__)

    @app.get("/todos")
    def list_todos() -> Response:
        key = bearer(request.headers.get("Authorization"))
        with engine.connect() as connection:
            found = key and connection.execute(KEY, {"digest": digest(key)}).first()
            if not found or found.revoked_at or (found.expires_at and found.expires_at <= now()):
                return Response(
                    '{"message":"Invalid credentials"}', 401, mimetype="application/json"
                )
            rows = connection.execute(PAGE_OF, {"owner": found.user_id}).mappings().all()
        page = [
            {
                **row,
                "due": row["due"].isoformat() if row["due"] else None,
                "created_at": row["created_at"].isoformat(),
                "updated_at": row["updated_at"].isoformat(),
            }
            for row in rows[:PAGE]
        ]
        for item in page:
            del item["owner_id"]
        body = json.dumps({"todos": page, "next_cursor": None}, separators=(",", ":"))
        return Response(body, mimetype="application/json")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response('{"status":"ok"}', mimetype="application/json")

    return app
