"""Request bodies: read whole before any work, and JSON read one way, with a 400 in the API's
envelope for any body it cannot take.

A body is read to its end before a request's work starts (`read_first`), so a client that sends
it slowly holds a server thread while it does, never a database connection or transaction.

Flask's `request.get_json` reads with the app's JSON provider, and every JSON body is read
through it (the REST API's arguments, the MCP endpoint's messages), so a body is refused the
same way wherever it arrives. Besides broken JSON, the reader refuses what Python's `json` would
otherwise take or fail on deep inside: NaN and Infinity (not JSON), numbers too large to hold
(a float that overflows to infinity; an integer past Python's digit limit for conversion,
4,300 by default, which `json.loads` reports as a ValueError that is not a decode error).
"""

from __future__ import annotations

import math
from typing import Any

from flask import Flask, request
from flask import Request as FlaskRequest
from flask.json.provider import DefaultJSONProvider

from app.errors import http_error

NOT_JSON = "The request body is not valid JSON."


class NumberRefused(ValueError):
    """A JSON number the app will not read; its message is shown to the caller."""


def _constant(name: str) -> Any:
    raise NumberRefused(f"{name} is not a JSON value.")


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise NumberRefused("A number in the request body has too many digits.") from None


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NumberRefused("A number in the request body is too large.")
    return value


class JSONProvider(DefaultJSONProvider):
    # Non-ASCII text counts once against ChatGPT's 100,000-character limit, not as \uXXXX.
    ensure_ascii = False
    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _constant)
        kwargs.setdefault("parse_int", _integer)
        kwargs.setdefault("parse_float", _float)
        return super().loads(s, **kwargs)


class Request(FlaskRequest):
    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:  # not a JSON content type: Flask's own 415
            return super().on_json_loading_failed(e)
        # The decoder's own messages can quote the body; these are the app's words.
        raise http_error(400, str(e) if isinstance(e, NumberRefused) else NOT_JSON)


def init_app(app: Flask) -> None:
    app.json = JSONProvider(app)
    app.request_class = Request

    @app.before_request
    def read_first() -> None:
        # MAX_CONTENT_LENGTH bounds it: a larger body is a 413 before anything else happens.
        if request.content_length or "Transfer-Encoding" in request.headers:
            request.get_data(cache=True)
