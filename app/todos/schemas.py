"""Request and response shapes of the todo actions; the spec is generated from these."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.fields import CONTROL, ONE_LINE, StrictBoolean, StrictDate, TextPattern
from app.paging import cursor_field, limit_field, next_cursor_field
from app.todos.models import NOTES_MAX, TITLE_MAX

QUERY_MAX = 200

# What text may hold, as patterns the spec publishes (app/fields.py). Notes keep line breaks
# and tabs.
_NOTES_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
# A title is stored stripped, and its length counts without the spaces around it: spaces (what
# str.strip() removes, less control characters), then 1 to TITLE_MAX characters that start and
# end with something else, then spaces.
_SPACE = r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_VISIBLE = f"[^{CONTROL}{_SPACE}]"
_TITLE_PATTERN = (
    rf"^[{_SPACE}]*{_VISIBLE}(?:[^{CONTROL}]{{0,{TITLE_MAX - 2}}}{_VISIBLE})?[{_SPACE}]*$"
)
_NOTE_WHITESPACE = {"\n", "\r", "\t"}


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
            TextPattern(ONE_LINE, "Control characters are not allowed."),
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
