"""JSON request bodies: one reader for the whole app, and a 400 in the API's envelope for any
body it cannot take.

Flask's `request.get_json` reads with the app's JSON provider; the API's arguments are read
through it too (webargs' own reader calls `json.loads` directly), so a body is refused the same
way wherever it arrives. Besides broken JSON, the reader refuses what Python's `json` would
otherwise take or fail on deep inside: NaN and Infinity (not JSON), numbers too large to hold
(a float that overflows to infinity; an integer past Python's digit limit for conversion,
4,300 by default, which `json.loads` reports as a ValueError that is not a decode error).
"""

from __future__ import annotations

import math
from typing import Any

import marshmallow as ma
from flask import Request as FlaskRequest
from flask.json.provider import DefaultJSONProvider
from webargs.flaskparser import FlaskParser

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


class ArgumentsParser(FlaskParser):
    """webargs' Flask parser, reading JSON bodies with `request.get_json`, and refusing query
    arguments the operation does not declare, as JSON bodies refuse unknown fields: the spec
    lists every argument, and a misspelt one would otherwise be ignored without a word."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": ma.RAISE}

    def load_json(self, req: FlaskRequest, schema: ma.Schema) -> Any:
        # No body, or not JSON, is "nothing given", as webargs' own reader answers.
        if not req.is_json or not req.get_data(cache=True):
            return ma.missing
        return req.get_json()
