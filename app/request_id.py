"""A request id on every request and response, so one line of the access log can be matched
with what a builder sees in ChatGPT's debug panel or in their own client.

A PaaS router (Heroku, Render) often sends its own X-Request-ID; reusing it ties the router's
log to the app's. Anything else in that header is untrusted input that ends up in logs, so only
short ids of safe characters are taken; otherwise a fresh one is made.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,128}")


def incoming_or_new(value: str | None) -> str:
    if value and _SANE.fullmatch(value):
        return value
    return uuid.uuid4().hex


def init_app(app: Flask) -> None:
    @app.before_request
    def _take_request_id() -> None:
        g.request_id = incoming_or_new(request.headers.get(HEADER))

    @app.after_request
    def _send_request_id(response: Response) -> Response:
        # An error raised by an earlier before_request hook skips _take_request_id.
        request_id = g.get("request_id") or incoming_or_new(request.headers.get(HEADER))
        response.headers[HEADER] = request_id
        return response
