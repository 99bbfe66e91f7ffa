"""Request and response shapes of the todo actions; the spec is generated from these."""

from __future__ import annotations

import re
import unicodedata

import marshmallow as ma
from marshmallow import fields, validate

from app.todos.models import NOTES_MAX, TITLE_MAX

PAGE_MAX = 100
PAGE_DEFAULT = 50
QUERY_MAX = 200

# Notes keep line breaks and tabs; every other control character (NUL first of all: PostgreSQL
# cannot store it) is refused rather than silently dropped.
_NOTE_WHITESPACE = {"\n", "\r", "\t"}


def _no_control_chars(allowed: set[str]):
    def check(value: str) -> None:
        for char in value:
            if char not in allowed and unicodedata.category(char) in ("Cc", "Cs"):
                raise ma.ValidationError(
                    f"Control character U+{ord(char):04X} is not allowed in this text."
                )

    return check


class StrictBoolean(fields.Boolean):
    """JSON true or false only: marshmallow would also read "no", "false" or 0 as a value."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictDate(fields.Date):
    """A calendar date written YYYY-MM-DD only, as the spec says: marshmallow also reads the
    other ISO 8601 forms Python's date.fromisoformat knows (20300101, 2030-W01-1)."""

    DIGITS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
    PATTERN = f"^{DIGITS.pattern}$"

    def __init__(self, **kwargs) -> None:
        kwargs["metadata"] = {"pattern": self.PATTERN, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not self.DIGITS.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Title(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


def title_field(*, required: bool) -> Title:
    return Title(
        required=required,
        validate=[validate.Length(min=1, max=TITLE_MAX), _no_control_chars(set())],
        metadata={"description": f"What needs doing, 1-{TITLE_MAX} characters."},
    )


def notes_field() -> fields.String:
    return fields.String(
        validate=[validate.Length(max=NOTES_MAX), _no_control_chars(_NOTE_WHITESPACE)],
        metadata={"description": f"Optional details, at most {NOTES_MAX} characters."},
    )


def due_field() -> fields.Date:
    return StrictDate(
        allow_none=True,
        metadata={"description": "Due date as YYYY-MM-DD, or null for none."},
    )


class TodoSchema(ma.Schema):
    id = fields.Integer(dump_only=True, metadata={"description": "The todo's id."})
    title = fields.String(metadata={"description": "What needs doing."})
    notes = fields.String(metadata={"description": "Details; empty when there are none."})
    done = fields.Boolean(metadata={"description": "Whether the todo is done."})
    due = fields.Date(allow_none=True, metadata={"description": "Due date, or null."})
    created_at = fields.DateTime(dump_only=True, metadata={"description": "When it was added."})
    updated_at = fields.DateTime(dump_only=True, metadata={"description": "Last change."})


class TodoListSchema(ma.Schema):
    todos = fields.Nested(TodoSchema, many=True, metadata={"description": "This page."})
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "Pass as cursor to get the next page; null on the last page."},
    )


class TodoCreateSchema(ma.Schema):
    title = title_field(required=True)
    notes = notes_field()
    due = due_field()


class TodoUpdateSchema(ma.Schema):
    title = title_field(required=False)
    notes = notes_field()
    done = StrictBoolean(metadata={"description": "true to mark done, false to reopen."})
    due = due_field()

    @ma.validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Give at least one of title, notes, done, due.")


class TodoQueryArgsSchema(ma.Schema):
    status = fields.String(
        load_default="open",
        validate=validate.OneOf(["open", "done", "all"]),
        metadata={"description": "open (default): not done yet; done: finished; all: both."},
    )
    q = fields.String(
        validate=[validate.Length(min=1, max=QUERY_MAX), _no_control_chars(set())],
        metadata={
            "description": "Only todos whose title or notes contain this text, ignoring case."
        },
    )
    due_before = StrictDate(
        metadata={"description": "Only todos due before this date (YYYY-MM-DD)."}
    )
    limit = fields.Integer(
        load_default=PAGE_DEFAULT,
        validate=validate.Range(min=1, max=PAGE_MAX),
        metadata={"description": f"Most todos to return, 1-{PAGE_MAX}; default {PAGE_DEFAULT}."},
    )
    cursor = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "next_cursor from the previous page, to continue the list."},
    )
