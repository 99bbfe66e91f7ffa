"""Request and response shapes of the todo actions; the spec is generated from these."""

from __future__ import annotations

import re
import unicodedata

import marshmallow as ma
from marshmallow import fields, validate

from app.paging import cursor_field, limit_field, next_cursor_field
from app.todos.models import NOTES_MAX, TITLE_MAX

QUERY_MAX = 200

# What text may hold, as patterns the spec publishes (apispec writes a Regexp validator as the
# field's `pattern`), so that a client learns from the spec what the server refuses. Control
# characters (Unicode Cc) are refused rather than silently dropped: NUL first of all, which
# PostgreSQL cannot store. Notes keep line breaks and tabs. Escapes only, and matched whole as
# JSON Schema's ECMA-262 patterns are (Python's $ also matches before a final newline), so a
# pattern means the same to the server and to a client. Lone surrogates are refused too, but
# no pattern can name them: they are not characters to a Unicode regular expression.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_TEXT_PATTERN = rf"^[^{_CONTROL}]*$"
_NOTES_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
# A title is stored stripped, and its length counts without the spaces around it: spaces (what
# str.strip() removes, less control characters), then 1 to TITLE_MAX characters that start and
# end with something else, then spaces.
_SPACE = r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_VISIBLE = f"[^{_CONTROL}{_SPACE}]"
_TITLE_PATTERN = (
    rf"^[{_SPACE}]*{_VISIBLE}(?:[^{_CONTROL}]{{0,{TITLE_MAX - 2}}}{_VISIBLE})?[{_SPACE}]*$"
)
_NOTE_WHITESPACE = {"\n", "\r", "\t"}


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
    """Checked as sent, the way the spec describes it, then stored without surrounding spaces."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        title = super().deserialize(value, attr, data, **kwargs)
        return title.strip() if isinstance(title, str) else title


def title_field(*, required: bool) -> Title:
    return Title(
        required=required,
        validate=[
            validate.Length(min=1),
            TextPattern(
                _TITLE_PATTERN, f"Give 1-{TITLE_MAX} characters besides the spaces around them."
            ),
        ],
        metadata={"description": f"What needs doing, 1-{TITLE_MAX} characters, one line."},
    )


def notes_field() -> fields.String:
    return fields.String(
        validate=[
            validate.Length(max=NOTES_MAX),
            TextPattern(_NOTES_PATTERN, "Control characters are not allowed.", _NOTE_WHITESPACE),
        ],
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
    next_cursor = next_cursor_field()


class TodoCreateSchema(ma.Schema):
    title = title_field(required=True)
    notes = notes_field()
    due = due_field()


class TodoUpdateSchema(ma.Schema):
    title = title_field(required=False)
    notes = notes_field()
    done = StrictBoolean(metadata={"description": "true to mark done, false to reopen."})
    due = due_field()

    # What not_empty refuses, said in the spec (app/spec adds it to this schema's component).
    JSON_SCHEMA = {"minProperties": 1}

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
        validate=[
            validate.Length(min=1, max=QUERY_MAX),
            TextPattern(_TEXT_PATTERN, "Control characters are not allowed."),
        ],
        metadata={
            "description": "Only todos whose title or notes contain this text, ignoring case."
        },
    )
    due_before = StrictDate(
        metadata={"description": "Only todos due before this date (YYYY-MM-DD)."}
    )
    limit = limit_field("todos")
    cursor = cursor_field()
