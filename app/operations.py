"""Resources and their operations, each operation declared once and run by one runner.

A resource package (app/todos is the example) makes a `Resource` and declares each operation
on the plain function that does its work:

    @todos.operation("GET", "/todos/<int:todo_id>", operation_id="getTodo",
                     consequential=False, scopes=[READ], path={"todo_id": TODO_ID},
                     response=TodoSchema(), errors={404: "No todo with that id"})
    def get_todo(caller: User, todo_id: int) -> Todo:
        '''Get one todo

        Returns one of the user's todos by id.
        '''

The function's docstring is the summary (first line) and description (the rest) written for
the model. The function knows nothing of HTTP or MCP: it takes the caller's user and the
validated arguments as keywords, returns what the response schema dumps, and raises
`NotFound`, `Invalid` or `Conflict` (app/refusals.py), which become 404, 400 and 409. It never
commits: the runner does, once the answer is built.

Every transport serves an operation the same way. It reads its request into a caller
(app/credentials.py), counted against the caller's rate limit (`admit`), and a mapping of raw
arguments, and hands them to `run`, which does the rest in a fixed order:

1. who may call it: a protected operation refuses a caller without credentials (401) or
   without its scopes (403), with a challenge saying how to sign in;
2. the arguments, loaded by the operation's marshmallow schemas, unknown ones refused (422);
3. the work function, whose refusals become the caller's answer;
4. the result, dumped by the response schema within the characters the transport allows
   (a list's page is sized to them: app/paging.py);
5. the commit, after which the answer is a promise: it was built from what was committed.

Any refusal is raised as a `Refusal`, which the transport words in its own form. The REST API
(app/rest.py) and the MCP endpoint (app/mcp) are the two adapters; a third (a CLI command, a
batch endpoint) would be one more, reading its input into the same three things.

The declarations are also what the spec (app/spec), the MCP tools, the scope table, the
account export and the privacy page are made from. `links` names, by operationId, the
operations whose parameters the success response fills in (OpenAPI links:
`{"getTodo": {"todo_id": "$response.body#/id"}}`), which contract testers follow.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from app.credentials import Audience, Caller, identify
from app.errors import failed_statement
from app.extensions import db
from app.models import User
from app.paging import Page
from app.ratelimit import LimitExceeded, spend_api
from app.refusals import (
    Conflict,
    Forbidden,
    Invalid,
    InvalidArguments,
    NotFound,
    Refusal,
    TooManyRequests,
)

__all__ = [
    "Conflict",
    "Invalid",
    "NotFound",
    "Operation",
    "Resource",
    "Widget",
    "admit",
    "run",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Widget:
    """A view an MCP Apps host (ChatGPT, Claude, VS Code...) shows for an operation's result,
    beside the data it gives the model (app/mcp/apps.py serves it).

    `template` is one self-contained HTML document under app/templates/; `version` goes into
    its URI, which hosts cache the document by, so raise it whenever the document changes (the
    older URIs still read). `invoking` and `invoked` are what ChatGPT shows while the tool
    runs and once it has, at most 64 characters each.
    """

    name: str
    version: int
    template: str
    description: str
    invoking: str
    invoked: str

    def __post_init__(self) -> None:
        if max(len(self.invoking), len(self.invoked)) > 64:
            raise ValueError(f"{self.name}: invoking and invoked take at most 64 characters")


@dataclass(frozen=True)
class Operation:
    """One operation, as a resource declared it."""

    operation_id: str
    method: str
    path: str
    work: Callable[..., Any]
    consequential: bool
    scopes: tuple[str, ...]
    path_schema: ma.Schema
    arguments: ma.Schema | None
    location: str
    response: ma.Schema | None
    status: int
    errors: Mapping[int, str]
    links: Mapping[str, Mapping[str, str]]
    paged: bool
    widget: Widget | None = None

    @property
    def name(self) -> str:
        return self.work.__name__

    @property
    def public(self) -> bool:
        """Whether it serves callers without credentials (it declares no scopes)."""
        return not self.scopes


@dataclass
class Resource:
    """A resource: its scopes, what it stores for a user, and its operations.

    `model` and `owner` tell the account export which rows belong to a user, and
    `export_schema` dumps them (deleting an account relies on the model's ON DELETE CASCADE).
    `stored` is the privacy page's line on what is kept.
    """

    name: str
    description: str
    scopes: Mapping[str, str]
    stored: str
    model: type | None = None
    owner: Any = None
    export_schema: ma.Schema | None = None
    operations: list[Operation] = field(default_factory=list)

    def operation(
        self,
        method: str,
        path: str,
        *,
        operation_id: str,
        consequential: bool,
        scopes: Iterable[str],
        path_fields: Mapping[str, ma.fields.Field] | None = None,
        arguments: ma.Schema | None = None,
        location: str = "json",
        response: ma.Schema | None = None,
        status: int = 200,
        errors: Mapping[int, str] | None = None,
        links: Mapping[str, Mapping[str, str]] | None = None,
        paged: bool = False,
        widget: Widget | None = None,
    ) -> Callable[[Callable], Callable]:
        """Declare the decorated work function as an operation.

        `path_fields` are the fields of the path's parameters (`todo_id` in
        /todos/<int:todo_id>); `arguments` the schema of the rest, read from the query string
        or the JSON body (`location`); `paged` hands the work function a `Page` for the
        arguments schema's `limit` and `cursor` (app/paging.py); `widget` is the view an MCP
        Apps host shows for its result.
        """

        def decorator(work: Callable) -> Callable:
            operation = Operation(
                operation_id=operation_id,
                method=method.upper(),
                path=path,
                work=work,
                consequential=consequential,
                scopes=tuple(scopes),
                path_schema=ma.Schema.from_dict(
                    dict(path_fields or {}), name=f"{operation_id}Path"
                )(),
                arguments=arguments,
                location=location,
                response=response,
                status=status,
                errors=dict(errors or {}),
                links=dict(links or {}),
                paged=paged,
                widget=widget,
            )
            unknown = set(operation.scopes) - set(self.scopes)
            if unknown:
                raise ValueError(f"{operation_id}: undeclared scopes {sorted(unknown)}")
            if paged and not {"limit", "cursor"} <= set(getattr(arguments, "fields", ())):
                raise ValueError(f"{operation_id}: a paged operation takes limit and cursor")
            self.operations.append(operation)
            return work

        return decorator

    def export(self, user: User) -> list[dict]:
        """Every row of this resource the user owns, as the API shows it."""
        if self.model is None or self.export_schema is None:
            return []
        key = tuple(sa.inspect(self.model).primary_key)
        rows = db.session.scalars(sa.select(self.model).where(self.owner == user.id).order_by(*key))
        return self.export_schema.dump(rows, many=True)


@dataclass(frozen=True)
class Answer:
    """An operation done: the status the REST API answers with, and the data, committed."""

    status: int
    data: Any


def admit(audience: Audience, serves: Iterable[Operation]) -> Caller:
    """Who calls, counted against the rate limit of its credential (or its address): the
    first step of every request either transport serves, for the operations the request may
    run (the REST API's one, or every tool of the MCP endpoint).

    A caller without credentials is refused here when none of them is public, before it costs
    any allowance. Unauthenticated or TooManyRequests.
    """
    caller = identify(audience)
    serves = tuple(serves)
    if caller.user is None and not any(operation.public for operation in serves):
        raise audience.missing(list(dict.fromkeys(s for o in serves for s in o.scopes)))
    try:
        allowance = spend_api(caller.limit_key)
    except LimitExceeded as exceeded:
        raise TooManyRequests(
            "Too many requests; retry after the number of seconds in Retry-After.",
            retry_after=exceeded.retry_after,
        ) from None
    return dataclasses.replace(caller, allowance=allowance)


def run(
    operation: Operation, caller: Caller, arguments: Mapping[str, Any], *, data_chars: int
) -> Answer:
    """Do `operation` for `caller` with `arguments` (raw, as the transport read them); the
    data may take at most `data_chars` characters once serialised. Raises a Refusal."""
    check_access(operation, caller)
    kwargs = load(operation, arguments)
    try:
        if operation.paged:
            kwargs["page"] = Page.start(kwargs.pop("limit"), kwargs.pop("cursor", None), data_chars)
        result = operation.work(caller.user, **kwargs)
        # Flushed and dumped before the commit: the answer is what the transaction holds.
        db.session.flush()
        data = operation.response.dump(result) if operation.response is not None else None
    except Refusal as refusal:
        db.session.rollback()
        raise _located(operation, refusal) from None
    except SQLAlchemyError as error:
        raise failed_statement(error) from None
    try:
        db.session.commit()
    except SQLAlchemyError as error:
        if operation.consequential:
            raise failed_statement(error, committing=True) from None
        # A read whose transaction could not end changed nothing: its answer stands.
        log.warning("could not end a read's transaction: %s", type(error).__name__)
        db.session.rollback()
    return Answer(operation.status, data)


def check_access(operation: Operation, caller: Caller) -> None:
    if operation.public:
        return
    if caller.user is None:
        raise caller.audience.missing(operation.scopes)
    missing = caller.lacks(operation.scopes)
    if missing:
        message = f"This needs the scope {' '.join(missing)}; sign in again to grant it."
        raise Forbidden(
            message,
            challenge=caller.audience.challenge(operation.scopes, "insufficient_scope", message),
        )


def load(operation: Operation, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The work function's keyword arguments, loaded from raw ones; InvalidArguments naming
    each one at fault."""
    path_names = operation.path_schema.fields
    errors: list[dict[str, str | None]] = []
    kwargs: dict[str, Any] = {}
    try:
        kwargs.update(
            operation.path_schema.load({k: v for k, v in arguments.items() if k in path_names})
        )
    except ma.ValidationError as error:
        errors.extend(_field_errors("path", error.normalized_messages()))
    rest = {k: v for k, v in arguments.items() if k not in path_names}
    if operation.arguments is not None:
        try:
            kwargs.update(operation.arguments.load(rest, unknown=ma.RAISE))
        except ma.ValidationError as error:
            errors.extend(_field_errors(operation.location, error.normalized_messages()))
    else:
        errors.extend(
            {"location": operation.location, "field": name, "message": "Unknown field."}
            for name in rest
        )
    if errors:
        raise InvalidArguments(summary(errors), errors=errors)
    return kwargs


def summary(errors: Iterable[Mapping[str, str | None]]) -> str:
    """One line naming each bad input, e.g. `Invalid input. title: Missing data for required
    field.`"""
    parts = [
        f"{e['field']}: {e['message']}" if e["field"] is not None else str(e["message"])
        for e in errors
    ]
    return ("Invalid input. " + " ".join(parts))[:1000]


def _field_errors(location: str, messages: Any) -> list[dict[str, str | None]]:
    """marshmallow's {field: [message]} as the envelope's [{location, field, message}]; a
    message about the whole input (under `_schema`) has a null field."""
    if not isinstance(messages, dict):
        messages = {None: messages}
    found = []
    for name, inner in messages.items():
        for message in inner if isinstance(inner, list) else [inner]:
            if isinstance(message, dict):  # a nested field's own errors
                found.extend(
                    {**e, "field": f"{name}.{e['field']}"} if e["field"] else {**e, "field": name}
                    for e in _field_errors(location, message)
                )
                continue
            field_name = None if name in (None, "_schema") else str(name)
            found.append({"location": location, "field": field_name, "message": str(message)})
    return found


def _located(operation: Operation, refusal: Refusal) -> Refusal:
    """A work function's refusal that names an argument, with the argument's location."""
    if refusal.field is None or refusal.errors:
        return refusal
    location = "path" if refusal.field in operation.path_schema.fields else operation.location
    refusal.errors = [{"location": location, "field": refusal.field, "message": refusal.message}]
    return refusal
