"""Resources and their operations, each operation declared once.

A resource package (app/todos is the example) makes a `Resource` and declares each operation
on the plain function that does its work:

    @todos.operation("GET", "/todos/<int:todo_id>", operation_id="getTodo",
                     consequential=False, scopes=[READ], response=TodoSchema(),
                     errors={404: "No todo with that id"})
    def get_todo(caller: User, todo_id: int) -> Todo:
        '''Get one todo

        Returns one of the user's todos by id.
        '''

The function's docstring is the summary (first line) and description (the rest) written for
the model. The function knows nothing of HTTP: it takes the caller and the validated
arguments as keywords, returns what the response schema dumps, and raises `NotFound`,
`Invalid` or `Conflict`, which become 404, 400 and 409.

From the declarations, this module makes the flask-smorest route of each operation (with the
credential check, the rate limit, the argument parsing and the response dump in a fixed
order); app/spec makes the action spec (operationId, x-openai-isConsequential, per-mode
security, `security: []` for an operation that declares no scopes); `all_scopes()` feeds the
consent and key pages and the OAuth metadata; the account export and the privacy page list
what each resource stores. `parameters` documents path parameters beyond their converter;
`links` names, by operationId, the operations whose parameters the success response fills in
(OpenAPI links: `{"getTodo": {"todo_id": "$response.body#/id"}}`), which contract testers
follow from one call to the next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import request
from flask_smorest import Blueprint, abort

from app.auth import current_user, protected
from app.extensions import db
from app.json_body import ArgumentsParser
from app.models import User

# ChatGPT refuses an answer of 100,000 characters or more. A work function that pages keeps the
# worst-case size of its data within data_char_budget(): this much when the data is sent once,
# as the REST API does; less where an answer carries it more than once (app/mcp).
DATA_CHAR_BUDGET = 90_000
_data_char_budget: ContextVar[int] = ContextVar("data_char_budget", default=DATA_CHAR_BUDGET)


def data_char_budget() -> int:
    """How many characters, at worst, the data a work function returns may serialise to."""
    return _data_char_budget.get()


@contextmanager
def limited_data_chars(chars: int) -> Iterator[None]:
    """Work functions called inside this return data of at most `chars` characters."""
    token = _data_char_budget.set(chars)
    try:
        yield
    finally:
        _data_char_budget.reset(token)


# What an operation that checks credentials may answer besides its own responses.
AUTH_ERRORS = {
    401: "Missing, invalid or expired credentials",
    403: "The credential lacks a needed scope",
    429: "Too many requests; retry after the Retry-After seconds",
}


class _Blueprint(Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()


class OperationError(Exception):
    """A request the work function refuses; the message is shown to the caller as it is."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # the argument at fault, if one is


class Invalid(OperationError):
    status = 400


class NotFound(OperationError):
    status = 404


class Conflict(OperationError):
    status = 409


@dataclass(frozen=True)
class Operation:
    """One operation, as a resource declared it."""

    operation_id: str
    method: str
    path: str
    work: Callable[..., Any]
    consequential: bool
    scopes: tuple[str, ...]
    arguments: ma.Schema | None
    location: str
    response: ma.Schema | None
    status: int
    errors: Mapping[int, str]
    parameters: tuple[dict, ...]
    links: Mapping[str, Mapping[str, str]]

    @property
    def name(self) -> str:
        return self.work.__name__


@dataclass
class Resource:
    """A resource: its scopes, what it stores for a user, and its operations.

    `model` and `owner` tell the account export which rows belong to a user, and
    `export_schema` dumps them (deleting an account relies on the model's ON DELETE CASCADE).
    `stored` is the privacy page's line on what is kept.
    """

    name: str
    import_name: str
    description: str
    scopes: Mapping[str, str]
    stored: str
    model: type | None = None
    owner: Any = None
    export_schema: ma.Schema | None = None
    operations: list[Operation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.blueprint = _Blueprint(self.name, self.import_name, description=self.description)
        self.blueprint.before_request(_require_json_body)

    def operation(
        self,
        method: str,
        path: str,
        *,
        operation_id: str,
        consequential: bool,
        scopes: Iterable[str],
        arguments: ma.Schema | None = None,
        location: str = "json",
        response: ma.Schema | None = None,
        status: int = 200,
        errors: Mapping[int, str] | None = None,
        parameters: Iterable[dict] = (),
        links: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Callable[[Callable], Callable]:
        """Declare the decorated work function as an operation, and route it."""

        def decorator(work: Callable) -> Callable:
            operation = Operation(
                operation_id=operation_id,
                method=method.upper(),
                path=path,
                work=work,
                consequential=consequential,
                scopes=tuple(scopes),
                arguments=arguments,
                location=location,
                response=response,
                status=status,
                errors=dict(errors or {}),
                parameters=tuple(parameters),
                links=dict(links or {}),
            )
            unknown = set(operation.scopes) - set(self.scopes)
            if unknown:
                raise ValueError(f"{operation_id}: undeclared scopes {sorted(unknown)}")
            self.operations.append(operation)
            _route(self.blueprint, operation)
            return work

        return decorator

    def export(self, user: User) -> list[dict]:
        """Every row of this resource the user owns, as the API shows it."""
        if self.model is None or self.export_schema is None:
            return []
        rows = db.session.scalars(
            sa.select(self.model).where(self.owner == user.id).order_by(*_primary_key(self.model))
        )
        return self.export_schema.dump(rows, many=True)


def _route(blp: Blueprint, operation: Operation) -> None:
    """The flask-smorest view of an operation, decorated in one fixed order: route, doc,
    credential check and rate limit, arguments, response, other responses. The credential
    check sits outside the arguments, so a request without credentials gets 401, not 422."""
    work = operation.work

    def view(*args: Any, **kwargs: Any) -> Any:
        try:
            return work(current_user(), *args, **kwargs)
        except OperationError as error:
            if error.field is None:
                abort(error.status, message=error.message)
            errors = [
                {"location": operation.location, "field": error.field, "message": error.message}
            ]
            abort(error.status, message=error.message, errors=errors)

    view.__name__ = operation.name
    view.__doc__ = work.__doc__
    for status, description in operation.errors.items():
        view = blp.alt_response(status, schema="Error", description=description)(view)
    view = blp.response(operation.status, operation.response)(view)
    if operation.arguments is not None:
        view = blp.arguments(operation.arguments, location=operation.location, as_kwargs=True)(view)
    view = protected(operation.scopes)(view)
    for status, description in AUTH_ERRORS.items():
        view = blp.alt_response(status, schema="Error", description=description)(view)
    doc: dict[str, Any] = {
        "operationId": operation.operation_id,
        "x-openai-isConsequential": operation.consequential,
    }
    if operation.links:
        links = {
            target: {"operationId": target, "parameters": dict(parameters)}
            for target, parameters in operation.links.items()
        }
        doc["responses"] = {operation.status: {"links": links}}
    view = blp.doc(**doc)(view)
    blp.route(
        operation.path,
        methods=[operation.method],
        endpoint=operation.name,
        parameters=list(operation.parameters),
    )(view)


def _require_json_body() -> None:
    # webargs would read a non-JSON body as no body at all and report missing fields.
    if request.method in ("POST", "PATCH", "PUT") and not request.is_json:
        if request.content_length or request.headers.get("Transfer-Encoding") or request.mimetype:
            abort(415, message="Send the request body as JSON (Content-Type: application/json).")


def _primary_key(model: type) -> tuple:
    return tuple(sa.inspect(model).primary_key)


def registered() -> tuple[Resource, ...]:
    from app.resources import RESOURCES

    return RESOURCES


def all_operations() -> Iterator[tuple[Resource, Operation]]:
    for resource in registered():
        for operation in resource.operations:
            yield resource, operation


def all_scopes() -> dict[str, str]:
    """Every scope the resources declare, with the words the consent and key pages show."""
    scopes: dict[str, str] = {}
    for resource in registered():
        scopes.update(resource.scopes)
    return scopes
