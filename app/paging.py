"""Pages of a list: keyset pagination behind an opaque cursor, each page sized to what the
answer may carry.

A list operation declares `paged=True`, and its arguments schema has a `limit` and a `cursor`
field (`limit_field` and `cursor_field` make them). The runner (app/operations.py) takes
both out of the arguments and hands the work function a `Page` instead, which knows how many
characters the transport lets the data take; the work function builds its query and asks the
page for its rows:

    rows, next_cursor = page.rows(query, key=Todo.id, chars=worst_case_chars)

A page holds at most `limit` rows, in the order of `key`, and stops before the worst case of
their serialised size (`chars` of each row) passes what the answer may carry: ChatGPT refuses
an answer of 100,000 characters or more. `next_cursor` is None on the last page.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from marshmallow import fields, validate

from app.extensions import db
from app.models import ID_MAX
from app.refusals import Invalid

PAGE_MAX = 100
PAGE_DEFAULT = 50
# The list's envelope and its next_cursor, at most.
ENVELOPE_CHARS = 100

# A cursor is "v1:<last key>" (1-18 digits) in unpadded URL-safe base64, and nothing else.
# "v1:" is "djE6"; then each three digits are four characters, one or two left over are two or
# three. A cursor is checked against this pattern before it is decoded, so the cursors the spec
# allows are exactly those the server reads.
_DIGITS_3 = "(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]"
_DIGITS_1 = "(?:[MN][AQgw]|O[AQ])"
_DIGITS_2 = "(?:[MN][DTjz]|O[DT])[AEIMQUYcgk]"
CURSOR_PATTERN = (
    f"^djE6(?:(?:{_DIGITS_3}){{1,6}}|(?:{_DIGITS_3}){{0,5}}(?:{_DIGITS_1}|{_DIGITS_2}))$"
)
_CURSOR = re.compile(CURSOR_PATTERN)


def limit_field(items: str) -> fields.Integer:
    """The `limit` argument of a list of `items` (a plural noun, for the description)."""
    return fields.Integer(
        load_default=PAGE_DEFAULT,
        validate=validate.Range(min=1, max=PAGE_MAX),
        metadata={"description": f"Most {items} to return, 1-{PAGE_MAX}; default {PAGE_DEFAULT}."},
    )


def cursor_field() -> fields.String:
    return fields.String(
        metadata={
            "description": "next_cursor from the previous page, to continue the list.",
            "pattern": CURSOR_PATTERN,
        },
    )


def next_cursor_field() -> fields.String:
    """The `next_cursor` of a page in a list's response."""
    return fields.String(
        allow_none=True,
        metadata={
            "description": "Pass as cursor to get the next page; null on the last page.",
            "pattern": CURSOR_PATTERN,
        },
    )


@dataclass(frozen=True)
class Page:
    """One page to read: at most `limit` rows after the key `after`, whose data may take at
    most `data_chars` characters."""

    limit: int
    after: int | None
    data_chars: int

    @classmethod
    def start(cls, limit: int, cursor: str | None, data_chars: int) -> Page:
        return cls(limit, None if cursor is None else decode_cursor(cursor), data_chars)

    def rows(
        self,
        query: sa.Select,
        *,
        key: sa.ColumnElement[int],
        chars: Callable[[sa.RowMapping], int],
    ) -> tuple[list[sa.RowMapping], str | None]:
        """This page of `query`'s rows, as mappings, and the cursor of the next page."""
        if self.after is not None:
            query = query.where(key > self.after)
        # One more than asked, to know whether a next page exists without counting.
        found = db.session.execute(query.order_by(key).limit(self.limit + 1)).mappings().all()
        page: list[sa.RowMapping] = []
        used = ENVELOPE_CHARS
        for row in found[: self.limit]:
            used += chars(row)
            if page and used > self.data_chars:
                break
            page.append(row)
        more = len(page) < len(found)
        return page, encode_cursor(page[-1][key.key]) if more and page else None


def encode_cursor(last: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    # The pattern the spec publishes, matched whole as JSON Schema does, so that the spec and
    # the server agree on every cursor; what it matches always decodes to "v1:" and digits.
    if _CURSOR.fullmatch(cursor) is None:
        raise Invalid("cursor is not one this API returned; omit it to start over", field="cursor")
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    # No id is larger: past it, the page is simply empty.
    return min(int(raw.removeprefix("v1:")), ID_MAX)
