"""Every error the app answers with goes through `error_response`, the one place that decides
its form:

- the API's JSON envelope, {"code", "status", "message", "errors"?}, for the API and anything
  else a program calls; on the MCP endpoint, inside a JSON-RPC error (as its `data`);
- an HTML page for the pages a person's browser shows (log-in, account, consent, admin);
- RFC 6749's `{"error", "error_description"}` on the OAuth token and revocation endpoints,
  which OAuth clients (ChatGPT included) parse. Authlib answers those itself; only the
  errors raised around it (a rate limit, a database outage) come here.

Errors that are not HTTP errors are turned into their HTTP error first: a refusal of the runner
(app/refusals.py) with its challenge or Retry-After, and a failed statement by
`failed_statement` (a conflicting write, a database that does not answer or has no connection
free), with a Retry-After where trying again helps.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import marshmallow as ma
from flask import Flask, current_app, jsonify, render_template, request
from flask_smorest import Api as SmorestApi
from flask_wtf.csrf import CSRFError
from marshmallow import fields
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from app.audience import MCP_PATH
from app.extensions import db
from app.platform.database import is_schema_error, unapplied_migrations
from app.refusals import Conflict, Failed, Invalid, Refusal, Unavailable, Unsure

log = logging.getLogger(__name__)
DATABASE_RETRY_AFTER = 5  # seconds
# JSON-RPC 2.0's codes for a request refused and for the server's own failure.
INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603


class FieldErrorSchema(ma.Schema):
    """One thing wrong with one input."""

    location = fields.String(
        metadata={"description": "Where the input is: json (the body), query or path."}
    )
    field = fields.String(
        allow_none=True,
        metadata={"description": "The input's name; null when the message is about all of it."},
    )
    message = fields.String(metadata={"description": "What is wrong with it."})


class ErrorSchema(ma.Schema):
    """The body of every error the API answers with."""

    code = fields.Integer(metadata={"description": "HTTP status code."})
    status = fields.String(metadata={"description": "HTTP status name."})
    message = fields.String(metadata={"description": "What went wrong, in one sentence."})
    # A list of objects rather than a map by field name: ChatGPT's importer reads a map (an
    # object whose properties are not known in advance) as an object without properties.
    errors = fields.List(
        fields.Nested(FieldErrorSchema),
        metadata={"description": "Each input at fault, with what is wrong with it."},
    )


class Api(SmorestApi):
    """flask-smorest's Api with the project's error envelope."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        return error_response(error)


# What each error says when whoever raised it gave no message of its own.
_DEFAULT_MESSAGES = {
    400: "The request could not be read; check that the body is valid JSON.",
    404: "Nothing exists at this path.",
    405: "This path does not take that method.",
    413: "The request body is too large.",
    # Flask-Limiter adds Retry-After (and X-RateLimit-*) to the response once it is made.
    429: "Too many requests; retry after the number of seconds in Retry-After.",
    500: "The server hit an error; nothing was changed.",
    503: "The database is unavailable; nothing was changed. Try again shortly.",
}
BUSY = "The service is busy; nothing was changed. Try again shortly."
UNSURE = (
    "The connection to the database was lost while saving, so the change may have been saved. "
    "Look before trying again."
)
# The same for a person reading a page: (title, message).
_PAGE_MESSAGES = {
    403: ("Not allowed", "Your account may not open this page."),
    404: ("Page not found", "Nothing is at this address: the link may be old or mistyped."),
    429: ("Too many attempts", "Please wait a minute and try again."),
    503: (
        "Temporarily unavailable",
        "The service cannot reach its database. Please try again in a minute.",
    ),
}
_OAUTH_ENDPOINTS = ("oauth.issue_token", "oauth.revoke_token")
_OAUTH_ERRORS = {429: "slow_down", 503: "temporarily_unavailable"}


def http_error(
    code: int, message: str, headers: dict[str, str] | None = None, errors: list | None = None
) -> HTTPException:
    """The HTTP error of `code`, carrying a message, headers and the inputs at fault as
    flask-smorest's `abort` would."""
    error = default_exceptions[code]()
    error.data = {"message": message, "headers": headers or {}}
    if errors:
        error.data["errors"] = errors
    return error


def refusal_error(refusal: Refusal) -> HTTPException:
    """A refusal of the runner as its HTTP error."""
    headers = {}
    if refusal.challenge:
        headers["WWW-Authenticate"] = refusal.challenge
    if refusal.retry_after:
        headers["Retry-After"] = str(refusal.retry_after)
    return http_error(refusal.status, refusal.message, headers, refusal.errors)


def error_response(error: HTTPException):
    headers = dict((getattr(error, "data", None) or {}).get("headers") or {})
    for name in ("Retry-After", "Allow"):
        value = dict(error.get_headers()).get(name)
        if value:
            headers[name] = value

    if wants_page():
        title, message = _PAGE_MESSAGES.get(error.code, (error.name, error.description))
        return render_template("error.html", title=title, message=message), error.code, headers
    if request.endpoint in _OAUTH_ENDPOINTS:
        message = (getattr(error, "data", None) or {}).get("message")
        body = {
            "error": _OAUTH_ERRORS.get(error.code, "server_error"),
            "error_description": message or _DEFAULT_MESSAGES.get(error.code, error.name),
        }
        return jsonify(body), error.code, headers

    payload, code, _ = SmorestApi.handle_http_exception(
        current_app.extensions["todo_action_api"], error
    )
    if "errors" in payload:
        payload["errors"] = _listed_errors(payload["errors"])
    if "message" not in payload:
        payload["message"] = _summary(payload.get("errors", [])) or _DEFAULT_MESSAGES.get(
            code, error.description or error.name
        )
    if request.path == MCP_PATH:
        return jsonify(json_rpc_error(payload)), code, headers
    return jsonify(payload), code, headers


def json_rpc_error(envelope: dict[str, Any]) -> dict[str, Any]:
    """An error of the MCP endpoint's HTTP request as JSON-RPC answers one: the envelope's
    message, under the code JSON-RPC has for it (a request refused, or the server's failure),
    with the envelope itself as the error's data."""
    try:
        message = request.get_json(silent=True) if request.is_json else None
    except HTTPException:  # a body too large to read: no id can be known
        message = None
    request_id = message.get("id") if isinstance(message, dict) else None
    if not isinstance(request_id, (str, int)) or isinstance(request_id, bool):
        request_id = None
    code = INTERNAL_ERROR if envelope["code"] >= 500 else INVALID_REQUEST
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": code, "message": envelope["message"], "data": envelope},
    }


# Field names come from the request body, so their number and length are the caller's to pick;
# echoed back unbounded they could push an error past ChatGPT's 100,000-character limit.
_MAX_ERRORS = 20
_MAX_ERROR_NAME = 100
_MAX_ERROR_MESSAGES = 3
_MAX_ERROR_MESSAGE = 300


def _listed_errors(errors: object) -> list[dict[str, str | None]]:
    """The documented shape, [{location, field, message}], and small whatever the input.

    Errors raised in this app come in that shape already; webargs and marshmallow report
    {location: {field: [message]}}. A message about a whole location (webargs' "Invalid JSON
    body." is a bare list, marshmallow's schema-level ones come under `_schema`) has a null
    field.
    """
    if isinstance(errors, dict):
        entries: Iterable[Any] = _from_map(errors)
    elif isinstance(errors, list):
        entries = (e for e in errors if isinstance(e, dict))
    else:
        entries = [{"location": "json", "field": None, "message": errors}]
    return [
        {
            "location": str(entry.get("location"))[:_MAX_ERROR_NAME],
            "field": None if entry.get("field") is None else str(entry["field"])[:_MAX_ERROR_NAME],
            "message": str(entry.get("message"))[:_MAX_ERROR_MESSAGE],
        }
        for entry in itertools.islice(entries, _MAX_ERRORS)
    ]


def _from_map(errors: dict) -> Iterator[dict[str, Any]]:
    for location, fields_ in errors.items():
        if not isinstance(fields_, dict):
            fields_ = {None: fields_}
        for name, messages in fields_.items():
            field = None if name == "_schema" else name
            for message in (
                messages[:_MAX_ERROR_MESSAGES] if isinstance(messages, list) else [messages]
            ):
                yield {"location": location, "field": field, "message": message}


def _summary(errors: list[dict[str, str | None]]) -> str | None:
    """One line naming each bad input, e.g. `json.title: Missing data for required field.`"""
    parts = [
        f"{e['location']}{'.' + e['field'] if e['field'] is not None else ''}: {e['message']}"
        for e in errors
    ]
    return ("Invalid input. " + " ".join(parts))[:1000] if parts else None


def wants_page() -> bool:
    """Whether a person's browser asked, on one of the pages: errors are then a page, not JSON.

    A path that names no page or endpoint at all (a 404, a 405) is a page when the client
    prefers HTML to JSON, as a browser does and ChatGPT and scripts (*/* or JSON) do not.
    """
    if request.blueprint in ("accounts", "admin") or request.endpoint == "oauth.authorize":
        return True
    if request.url_rule is None:
        offered = ("application/json", "text/html")
        return request.accept_mimetypes.best_match(offered) == "text/html"
    return False


def _unapplied_migrations() -> str | None:
    try:
        with db.engine.connect() as connection:
            return unapplied_migrations(connection, current_app.extensions["migrate"].directory)
    except SQLAlchemyError:
        return None


def database_failure(error: OperationalError | ProgrammingError) -> bool:
    """Log a failed statement as its operator needs it, never with the statement or its
    parameters (digests among them); True when the call can be tried again (the database
    cannot be reached, stayed locked past its timeout, or is not migrated), False for a bug,
    whose traceback is logged."""
    reason = str(error.orig).strip().splitlines()[0][:200] if error.orig else ""
    if is_schema_error(error):
        missing = _unapplied_migrations()
        if missing:
            log.error(
                "database not migrated: %s; run `flask --app app db upgrade` (%s)",
                missing,
                reason,
            )
            return True
    if isinstance(error, ProgrammingError):
        log.error("unhandled error", exc_info=error)
        return False
    log.error("database unavailable: %s: %s", error.orig.__class__.__name__, reason)
    return True


def failed_statement(error: SQLAlchemyError, *, committing: bool = False) -> Refusal:
    """Roll back after a statement failed, log it (never with the statement or its
    parameters), and say how to answer. The runner and the app's error handlers answer by it.

    - Conflict (409): it conflicts with a row that exists.
    - Invalid (400): a value the database cannot hold (a number out of its range, text it
      cannot read as the column's type) came from the request past its validation: the
      request's fault, and nothing was written.
    - Unavailable (503): no pooled connection came free in time, or the database refused or
      dropped the connection, stayed locked past its timeout or is not migrated: the call can
      be tried again, which a 500 would not say.
    - Failed (500): a bug, logged with its traceback.

    While `committing`, a connection lost before the database answered leaves the outcome
    unknown: it may have committed before it went. That is said (Unsure), never "nothing was
    changed".
    """
    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass  # the connection is gone; the pool has already discarded it
    if isinstance(error, IntegrityError):
        log.warning("integrity error: %s", error.orig.__class__.__name__)
        return Conflict("The request conflicts with data that already exists.")
    if isinstance(error, DataError):
        log.warning("value refused by the database: %s", error.orig.__class__.__name__)
        return Invalid("A value in the request is out of range.")
    if committing and _unanswered(error):
        log.error("commit failed, outcome unknown: %s", _reason(error))
        return Unsure(UNSURE, retry_after=DATABASE_RETRY_AFTER)
    if isinstance(error, PoolTimeout):
        # Every connection of this worker's pool stayed busy for the whole DATABASE_TIMEOUT.
        log.error("database busy: no pooled connection came free in time")
        return Unavailable(BUSY, retry_after=DATABASE_RETRY_AFTER)
    if isinstance(error, (OperationalError, ProgrammingError)) and database_failure(error):
        return Unavailable(_DEFAULT_MESSAGES[503], retry_after=DATABASE_RETRY_AFTER)
    if not isinstance(error, (OperationalError, ProgrammingError)):
        log.error("unhandled error", exc_info=error)
    return Failed(_DEFAULT_MESSAGES[500])


def _unanswered(error: SQLAlchemyError) -> bool:
    """Whether the database never answered the statement: the connection broke first. Only
    then can a failed commit have been committed: a database that answered with an error
    (PostgreSQL's, which carries its SQLSTATE, or any of SQLite's, which commits in this
    process) rolled the transaction back."""
    return isinstance(error, OperationalError) and getattr(error.orig, "sqlstate", "") is None


def _reason(error: SQLAlchemyError) -> str:
    orig = getattr(error, "orig", None)
    if orig is None:
        return type(error).__name__
    first = str(orig).strip().splitlines()[0][:200] if str(orig).strip() else ""
    return f"{type(orig).__name__}: {first}"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Refusal)
    def refused(refusal: Refusal) -> Any:
        return error_response(refusal_error(refusal))

    @app.errorhandler(SQLAlchemyError)
    def statement_failed(error: SQLAlchemyError) -> Any:
        return error_response(refusal_error(failed_statement(error)))

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> Any:
        # Only forms are CSRF-protected, so a person is reading this: answer with a page.
        return render_template(
            "error.html",
            title="This form has expired",
            message=(
                "The form was open too long or was not sent from this site. "
                "Go back, reload the page and try again."
            ),
            detail=error.description,
        ), 400

    @app.errorhandler(RecursionError)
    def too_deep(error: RecursionError) -> Any:
        # Deeply nested JSON overflows the decoder before any schema sees it.
        return error_response(http_error(400, "The JSON body is nested too deeply."))

    @app.errorhandler(InternalServerError)
    def internal_error(error: InternalServerError) -> Any:
        try:
            db.session.rollback()
        except SQLAlchemyError:
            pass  # the connection is gone; the answer is the 500 all the same
        original = getattr(error, "original_exception", None)
        if original is not None:
            log.error("unhandled error", exc_info=original)
        return error_response(http_error(500, _DEFAULT_MESSAGES[500]))
