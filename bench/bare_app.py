"""The baseline for getTodos: plain Flask answering with bytes captured from the real endpoint.

Served by the same gunicorn config and worker count as the app, so the difference between the
two is what the app itself costs per request.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response


def create_app() -> Flask:
    body = Path(os.environ["BENCH_BARE_BODY"]).read_bytes()
    mimetype = os.environ.get("BENCH_BARE_MIMETYPE", "application/json")
    app = Flask(__name__)

    @app.get("/todos")
    def todos() -> Response:
        return Response(body, mimetype=mimetype)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(b'{"status":"ok"}', mimetype="application/json")

    return app
