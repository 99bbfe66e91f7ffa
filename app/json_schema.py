"""marshmallow schemas as JSON Schema, by apispec's converter: the one flask-smorest documents
the REST API with. The MCP tools (app/mcp/tools.py) and the REST routes' path parameters
(app/rest.py) are described by it, so every surface says the same of an argument: its type,
description, bounds, pattern and whether it is required.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import marshmallow as ma
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter

OPENAPI_VERSION = "3.1.0"


@cache
def _converter() -> OpenAPIConverter:
    # A resolver that names no schema makes the converter write nested schemas in place
    # rather than as references to components: a tool's schema stands on its own.
    plugin = MarshmallowPlugin(schema_name_resolver=lambda schema: None)
    APISpec("schemas", "1", OPENAPI_VERSION, plugins=[plugin])
    return plugin.converter


def json_schema(schema: ma.Schema) -> dict[str, Any]:
    """The JSON Schema of an object `schema` loads or dumps, nested schemas in place."""
    return _converter().schema2jsonschema(schema)


def parameters(schema: ma.Schema, location: str) -> list[dict[str, Any]]:
    """The OpenAPI parameters (`in`: location) of each of `schema`'s fields."""
    return _converter().schema2parameters(schema, location=location)
