"""MCP tools made from the operation declarations (app/operations.py), with no code per tool.

Each declared operation is one tool, named after its work function (`list_todos`, `add_todo`,
...). What the model reads comes from the declaration, as the spec's does: the docstring's
summary is the title and the rest the description; the input schema is the path's fields and
the arguments schema's together, the output schema the response schema's, each converted by
the converter flask-smorest documents the REST API with (app/json_schema.py). The consequential
flag gives the hints ChatGPT asks for: an operation that is not consequential only reads; a
consequential POST adds; any other consequential one changes or deletes what exists.

A call is the runner's: `call` hands the tool's operation, the caller and the arguments to
`run`, and writes its answer as a tool result, with the data both as `structuredContent` and
as its JSON text; a refusal is a tool error carrying the API's error envelope as
`structuredContent` and its message as text. A refusal with a challenge (a missing or
insufficient scope) carries it as `_meta["mcp/www_authenticate"]`, which makes ChatGPT offer
to sign in.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from flask_smorest.utils import load_info_from_docstring
from mcp import types

from app.credentials import Caller
from app.json_schema import json_schema
from app.mcp import apps
from app.operations import Operation, run
from app.refusals import Failed, Refusal
from app.resources import all_operations

log = logging.getLogger(__name__)

# ChatGPT refuses a tool result of 100,000 characters or more. The result carries the data
# twice, as structuredContent and as JSON text inside a JSON string, where escaping can double
# it again: at worst three times the data, plus the JSON-RPC envelope.
DATA_CHARS = 30_000
_EMPTY = {"type": "object", "properties": {}, "additionalProperties": False}


@dataclass(frozen=True)
class OperationTool:
    tool: types.Tool
    operation: Operation


def build_tools(action_auth: str, app_name: str) -> dict[str, OperationTool]:
    """The tools of every declared operation, by name."""
    return {
        operation.name: OperationTool(_tool(operation, action_auth, app_name), operation)
        for _, operation in all_operations()
    }


def describe(operation: Operation) -> tuple[str, str]:
    """An operation's summary and description, from its docstring as the spec has them."""
    info = load_info_from_docstring(operation.work.__doc__ or "")
    summary = " ".join(info.get("summary", "").split())
    return summary, " ".join(info.get("description", "").split()) or summary


def input_schema(operation: Operation) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for schema in (operation.path_schema, operation.arguments):
        if schema is not None:
            converted = json_schema(schema)
            properties.update(converted.get("properties", {}))
            required.extend(converted.get("required", ()))
    result: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        result["required"] = required
    return result


def output_schema(operation: Operation) -> dict[str, Any]:
    # An operation without a body to return (a delete) answers an empty object.
    return json_schema(operation.response) if operation.response is not None else dict(_EMPTY)


def _tool(operation: Operation, action_auth: str, app_name: str) -> types.Tool:
    summary, description = describe(operation)
    reads = not operation.consequential
    # In `none` mode a call without credentials acts as the demo user, as on the REST API.
    signs_in = not operation.public and action_auth != "none"
    return types.Tool(
        name=operation.name,
        title=summary,
        description=description,
        input_schema=input_schema(operation),
        output_schema=output_schema(operation),
        annotations=types.ToolAnnotations(
            title=summary,
            read_only_hint=reads,
            destructive_hint=not reads and operation.method != "POST",
            # The tools act on the user's own data in this app's database, nothing beyond it.
            open_world_hint=False,
        ),
        _meta={
            "securitySchemes": (
                [{"type": "oauth2", "scopes": list(operation.scopes)}]
                if signs_in
                else [{"type": "noauth"}]
            ),
            **apps.tool_meta(operation, app_name),
        },
    )


def call(tool: OperationTool, caller: Caller, arguments: Mapping[str, Any]) -> types.CallToolResult:
    """Run a tool's operation for `caller`, in the request's app context."""
    try:
        answer = run(tool.operation, caller, arguments, data_chars=DATA_CHARS)
    except Refusal as refusal:
        return refused(refusal)
    except Exception:
        log.exception("unhandled error in tool %s", tool.operation.name)
        return refused(Failed("The server hit an error."))
    data = answer.data if answer.data is not None else {}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=data
    )


def refused(refusal: Refusal) -> types.CallToolResult:
    """A refusal as a tool error: its message as text, the API's error envelope as
    structuredContent, and its challenge where ChatGPT looks for one."""
    envelope: dict[str, Any] = {
        "code": refusal.status,
        "status": HTTPStatus(refusal.status).phrase,
        "message": refusal.message,
    }
    if refusal.errors:
        envelope["errors"] = refusal.errors
    meta = {"mcp/www_authenticate": [refusal.challenge]} if refusal.challenge else None
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=refusal.message)],
        structured_content=envelope,
        is_error=True,
        _meta=meta,
    )
