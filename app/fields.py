"""marshmallow fields that accept exactly what the spec says they do, for any resource's
schemas.

apispec publishes marshmallow's Boolean as `type: boolean` and its Date as `format: date`, but
marshmallow reads more than that: "yes", "on" and 0 as booleans, 20300101 and 2030-W01-1 as
dates. A client that sends them gets an answer the spec did not promise, and the contract test
(tests/test_contract.py), which sends what the spec forbids, fails. These refuse it.

`TextPattern` is the validator for text: apispec publishes its pattern, so the spec says what
the server refuses, and its message names a control character it finds.
"""

from __future__ import annotations

import re
import unicodedata

import marshmallow as ma
from marshmallow import fields, validate


class StrictBoolean(fields.Boolean):
    """JSON true or false only: for a JSON body."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class QueryBoolean(fields.Boolean):
    """true or false: JSON's, as an MCP tool's arguments give them, or the words, as a query
    string does (what OpenAPI's default serialization of a boolean parameter writes)."""

    WORDS = {"true": True, "false": False}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in self.WORDS:
            return self.WORDS[value]
        raise self.make_error("invalid", input=value)


class StrictDate(fields.Date):
    """A calendar date written YYYY-MM-DD only, as the spec says."""

    DIGITS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
    PATTERN = f"^{DIGITS.pattern}$"

    def __init__(self, **kwargs) -> None:
        kwargs["metadata"] = {"pattern": self.PATTERN, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not self.DIGITS.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


# What text may hold is said as a pattern the spec publishes (apispec writes a Regexp validator
# as the field's `pattern`), so that a client learns from the spec what the server refuses.
# Control characters (Unicode Cc) are refused rather than silently dropped: NUL first of all,
# which PostgreSQL cannot store. Escapes only, and matched whole as JSON Schema's ECMA-262
# patterns are (Python's $ also matches before a final newline), so a pattern means the same to
# the server and to a client. Lone surrogates are refused too, but no pattern can name them:
# they are not characters to a Unicode regular expression.
CONTROL = r"\x00-\x1f\x7f-\x9f"
# One line of text: no control characters at all.
ONE_LINE = rf"^[^{CONTROL}]*$"


class TextPattern(validate.Regexp):
    """A Regexp validator that matches the whole text, and whose message names the control
    character it refuses, if there is one."""

    def __init__(self, pattern: str, error: str, allowed: set[str] = frozenset()) -> None:
        super().__init__(pattern, error=error)
        self.allowed = allowed

    def __call__(self, value: str) -> str:
        control = next(
            (c for c in value if c not in self.allowed and unicodedata.category(c) in ("Cc", "Cs")),
            None,
        )
        if control is not None:
            raise ma.ValidationError(
                f"Control character U+{ord(control):04X} is not allowed in this text."
            )
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self.error)
        return value
