"""MCP tools made from the operation declarations (app/operations.py), with no code per tool.

Each declared operation is one tool, named after its work function (`list_todos`, `add_todo`,
...). What the model reads comes from the action spec the app publishes, so the two cannot
drift apart: the summary is the title, the description the description, the path and query
parameters and the JSON body together are the input schema, and the success response is the
output schema. The consequential flag gives the hints ChatGPT asks for: an operation that is
not consequential only reads; a consequential POST adds; any other consequential one changes
or deletes what exists.

A call runs the same work function as the REST view, with the arguments loaded by the same
marshmallow schema (unknown fields refused), and answers with the data both as
`structuredContent` and as its JSON text. A refusal of the work function (NotFound, Invalid,
Conflict) is a tool error with its message; a missing scope is a tool error that carries the
WWW-Authenticate challenge, which makes ChatGPT offer to sign in again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import marshmallow as ma
from flask import Flask
from mcp import types
from sqlalchemy.exc import SQLAlchemyError

from app.errors import failed_statement
from app.mcp.auth import Caller, challenge
from app.operations import Operation, OperationError, all_operations, limited_data_chars
from app.spec import app_spec

log = logging.getLogger(__name__)

# ChatGPT refuses a tool result of 100,000 characters or more. The result carries the data
# twice, as structuredContent and as JSON text inside a JSON string, where escaping can double
# it again: at worst three times the data, plus the JSON-RPC envelope.
TOOL_DATA_CHAR_BUDGET = 30_000


@dataclass(frozen=True)
class OperationTool:
    tool: types.Tool
    operation: Operation
    path_parameters: Mapping[str, dict]


def build_tools(app: Flask) -> dict[str, OperationTool]:
    """The tools of every declared operation, by name, described as the app's spec says."""
    spec = app_spec(app)
    by_id = {
        operation["operationId"]: operation
        for path in spec["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    schemes = _security_schemes(app)
    tools = {}
    for _, operation in all_operations():
        published = by_id[operation.operation_id]
        tools[operation.name] = _tool(spec, operation, published, schemes)
    return tools


def _tool(spec: dict, operation: Operation, published: dict, schemes: Any) -> OperationTool:
    properties: dict[str, Any] = {}
    required: list[str] = []
    path_parameters = {}
    for parameter in published.get("parameters", ()):
        schema = dict(_inline(spec, parameter["schema"]))
        if "description" in parameter:
            schema.setdefault("description", parameter["description"])
        properties[parameter["name"]] = schema
        if parameter.get("required"):
            required.append(parameter["name"])
        if parameter["in"] == "path":
            path_parameters[parameter["name"]] = schema
    body = published.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        body_schema = _inline(spec, body["schema"])
        properties.update(body_schema.get("properties", {}))
        required.extend(body_schema.get("required", ()))
    input_schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        input_schema["required"] = required

    success = published["responses"].get(str(operation.status), {})
    content = success.get("content", {}).get("application/json")
    # An operation without a body to return (a delete) answers an empty object.
    output_schema = (
        _inline(spec, content["schema"])
        if content
        else {"type": "object", "properties": {}, "additionalProperties": False}
    )
    reads = not operation.consequential
    tool = types.Tool(
        name=operation.name,
        title=published["summary"],
        description=published.get("description") or published["summary"],
        input_schema=input_schema,
        output_schema=output_schema,
        annotations=types.ToolAnnotations(
            title=published["summary"],
            read_only_hint=reads,
            destructive_hint=not reads and operation.method != "POST",
            # The tools act on the user's own list in this app's database, nothing beyond it.
            open_world_hint=False,
        ),
        _meta={
            "securitySchemes": (
                [{"type": "oauth2", "scopes": list(operation.scopes)}]
                if operation.scopes and schemes == "oauth2"
                else [{"type": "noauth"}]
            )
        },
    )
    return OperationTool(tool, operation, path_parameters)


def _security_schemes(app: Flask) -> str:
    # In `none` mode a call without credentials acts as the demo user, as on the REST API.
    return "noauth" if app.config["ACTION_AUTH"] == "none" else "oauth2"


def _inline(spec: dict, node: Any) -> Any:
    """A spec schema with its $refs replaced by what they name (the schemas have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return _inline(spec, spec["components"]["schemas"][name])
        return {key: _inline(spec, value) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(spec, value) for value in node]
    return node


def call(tool: OperationTool, caller: Caller, arguments: Mapping[str, Any]) -> types.CallToolResult:
    """Run a tool's operation for `caller`; call inside an app context."""
    operation = tool.operation
    missing = caller.lacks(operation.scopes)
    if missing:
        message = f"This needs the scope {' '.join(missing)}; sign in again to grant it."
        www_authenticate = challenge(operation.scopes, "insufficient_scope", message)
        return _error(message, meta={"mcp/www_authenticate": [www_authenticate]})

    path_kwargs = {}
    for name, schema in tool.path_parameters.items():
        if name not in arguments:
            return _error(f"{name}: Missing data for required field.")
        try:
            jsonschema.validate(arguments[name], schema)
        except jsonschema.ValidationError as error:
            return _error(f"{name}: {error.message}")
        path_kwargs[name] = arguments[name]
    rest = {k: v for k, v in arguments.items() if k not in tool.path_parameters}
    try:
        loaded = operation.arguments.load(rest, unknown=ma.RAISE) if operation.arguments else {}
        if not operation.arguments and rest:
            raise ma.ValidationError({name: ["Unknown field."] for name in rest})
    except ma.ValidationError as error:
        return _error(_describe(error.normalized_messages()))

    try:
        with limited_data_chars(TOOL_DATA_CHAR_BUDGET):
            result = operation.work(caller.user, **path_kwargs, **loaded)
    except OperationError as error:
        return _error(f"{error.field}: {error.message}" if error.field else error.message)
    except SQLAlchemyError as error:
        return _database_error(error)
    data = operation.response.dump(result) if operation.response is not None else {}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=data,
    )


def _database_error(error: SQLAlchemyError) -> types.CallToolResult:
    # As the API answers it (app/errors.py), in a tool error's words.
    status, message = failed_statement(error)
    if status == 503:
        return _error("The database is unavailable; nothing was changed. Try again shortly.")
    return _error(message or "The server could not complete this call; nothing was changed.")


def _describe(messages: Any) -> str:
    if isinstance(messages, dict):
        parts = [f"{field}: {_describe(inner)}" for field, inner in messages.items()]
        return "; ".join(parts)
    if isinstance(messages, list):
        return " ".join(_describe(m) for m in messages)
    return str(messages)


def _error(message: str, meta: dict | None = None) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True, _meta=meta
    )
