"""Why an operation was not done, in words for its caller: the runner's answers other than
success (app/operations.py).

A refusal means nothing was changed, with one exception said in its own words: a change whose
commit failed midway (`Unsure`), which the database may or may not have kept. Each carries the
HTTP status the REST API answers with; each transport words it in its own form, the API's JSON
envelope (app/rest.py) or an MCP tool error (app/mcp/tools.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class Refusal(Exception):
    """An operation not done; `message` is shown to the caller as it is.

    `errors` names each input at fault, as {"location", "field", "message"}; `challenge` is a
    WWW-Authenticate value telling the caller how to sign in; `retry_after` says, in seconds,
    when trying again can help.
    """

    status = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: Sequence[Mapping[str, str | None]] = (),
        challenge: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # the argument at fault, if one is; the runner adds its location
        self.errors = list(errors)
        self.challenge = challenge
        self.retry_after = retry_after


# What a work function raises.
class Invalid(Refusal):
    status = 400


class NotFound(Refusal):
    status = 404


class Conflict(Refusal):
    status = 409


# What the runner and the credential seam raise.
class Unauthenticated(Refusal):
    status = 401


class Forbidden(Refusal):
    status = 403


class Unsupported(Refusal):
    """A body the transport cannot read as arguments (not JSON)."""

    status = 415


class InvalidArguments(Refusal):
    status = 422


class TooManyRequests(Refusal):
    status = 429


class Failed(Refusal):
    """A bug: logged with its traceback, and nothing was changed."""

    status = 500


class Unavailable(Refusal):
    """The database cannot serve the call now; trying again after `retry_after` can help."""

    status = 503


class Unsure(Unavailable):
    """The connection was lost while a change was being committed: the database may have kept
    it. A caller that retries should look first."""
