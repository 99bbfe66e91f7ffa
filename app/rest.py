"""The REST API: each declared operation as a flask-smorest route, one adapter over the runner.

A view reads its request into what the runner (app/operations.py) takes, the caller and the raw
arguments from the path, the query string or the JSON body, and writes the answer as JSON with
the operation's status and what is left of the caller's rate limit. A refusal becomes the API's
error envelope (app/errors.py), with its challenge or Retry-After.

flask-smorest documents each route from the same declaration: the arguments, the response and
every status the runner can answer, so the spec says what the view does. The arguments are
documented with `doc`, not `arguments`, which would also load them: the runner does, for both
transports alike.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser

from app.credentials import API, Caller
from app.json_schema import parameters
from app.operations import Answer, Operation, Resource, admit, run, summary
from app.refusals import InvalidArguments, Unsupported

# ChatGPT refuses an answer of 100,000 characters or more; the REST API sends the data once,
# with room to spare for the envelope.
DATA_CHARS = 90_000

# What an operation that checks credentials may answer besides its own responses.
AUTH_ERRORS = {
    401: "Missing, invalid or expired credentials",
    403: "The credential lacks a needed scope",
}
LIMIT_ERROR = {429: "Too many requests; retry after the Retry-After seconds"}

# webargs' readers of a request's query string and JSON body, as flask-smorest uses them.
_reader = FlaskParser()


def blueprint(resource: Resource) -> Blueprint:
    """The resource's routes, one per declared operation: its tag in the spec."""
    blp = Blueprint(resource.name, __name__, description=resource.description)
    for operation in resource.operations:
        _route(blp, operation)
    return blp


def _route(blp: Blueprint, operation: Operation) -> None:
    def view(**path: Any) -> Response:
        caller = admit(API, [operation])
        answer = run(operation, caller, read_arguments(operation, path), data_chars=DATA_CHARS)
        return respond(answer, caller)

    view.__name__ = operation.name
    view.__doc__ = operation.work.__doc__
    doc: dict[str, Any] = {
        "operationId": operation.operation_id,
        "x-openai-isConsequential": operation.consequential,
    }
    if operation.arguments is not None:
        view = blp.alt_response(422, response="UNPROCESSABLE_ENTITY")(view)
        if operation.location == "json":
            content = {"application/json": {"schema": operation.arguments}}
            doc["requestBody"] = {"required": True, "content": content}
        else:
            doc["parameters"] = [{"in": operation.location, "schema": operation.arguments}]
    for status, description in operation.errors.items():
        view = blp.alt_response(status, schema="Error", description=description)(view)
    view = blp.response(operation.status, operation.response)(view)
    admission = {} if operation.public else dict(AUTH_ERRORS)
    for status, description in {**admission, **LIMIT_ERROR}.items():
        view = blp.alt_response(status, schema="Error", description=description)(view)
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
        parameters=parameters(operation.path_schema, "path"),
    )(view)


def read_arguments(operation: Operation, path: dict[str, Any]) -> dict[str, Any]:
    """The operation's raw arguments: the path's, and those of its query string or JSON body."""
    if operation.arguments is None:
        return path
    if operation.location != "json":
        given = dict(_reader.load_querystring(request, operation.arguments))
    elif not request.get_data(cache=True):
        given = {}  # no body: every required field is reported missing
    elif not request.is_json:
        raise Unsupported("Send the request body as JSON (Content-Type: application/json).")
    else:
        given = request.get_json()
    # The path names what to act on: its names are not arguments of the body or the query.
    wrong = [None] if not isinstance(given, dict) else [name for name in given if name in path]
    if wrong:
        errors = [
            {
                "location": operation.location,
                "field": name,
                "message": "Unknown field." if name else "Invalid input type.",
            }
            for name in wrong
        ]
        raise InvalidArguments(summary(errors), errors=errors)
    return {**given, **path}


def respond(answer: Answer, caller: Caller) -> Response:
    if answer.data is None and answer.status == 204:
        response = current_app.response_class(status=204)
    else:
        response = current_app.json.response(answer.data)
        response.status_code = answer.status
    allowance = caller.allowance
    if allowance is not None:
        response.headers["X-RateLimit-Limit"] = str(allowance.limit)
        response.headers["X-RateLimit-Remaining"] = str(allowance.remaining)
        response.headers["X-RateLimit-Reset"] = str(allowance.reset)
    return response
