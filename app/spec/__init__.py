"""The published OpenAPI document: flask-smorest's spec, made into a valid GPT action schema.

flask-smorest generates paths and schemas from the views and marshmallow schemas. `build_spec`
then applies what ChatGPT's importer needs and flask-smorest does not do by itself:

- `openapi: 3.1.0` and exactly one server, the configured public https origin;
- security for the configured ACTION_AUTH mode, from the scopes each operation declares
  (app/operations.py): `security: []` for a public one, which needs no credentials;
- `$ref` parameters and responses inlined (the importer does not resolve them); schema
  references stay, since the importer resolves those;
- `components.schemas` always present;
- what an argument schema refuses beyond its fields (its `JSON_SCHEMA`, e.g. minProperties for
  a body that must change something), added to the body's schema.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import yaml
from flask import Flask, current_app

from app.resources import all_operations, all_scopes

# The API's contract version, not the package's: it changes when an operation does.
API_VERSION = "1.0.0"
API_DESCRIPTION = (
    "Keeps the user's TODO list: list, add, change, complete and delete todos. "
    "Responses are raw JSON data."
)

SECURITY_SCHEME_NAME = {"oauth": "oauth", "apikey": "apiKey"}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def security_scheme(settings: Mapping[str, Any]) -> dict[str, Any] | None:
    mode = settings["ACTION_AUTH"]
    base = settings["PUBLIC_URL"]
    if mode == "oauth":
        return {
            "type": "oauth2",
            "description": "Sign in to this service and allow the GPT to use your todos.",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{base}/oauth/authorize",
                    "tokenUrl": f"{base}/oauth/token",
                    "refreshUrl": f"{base}/oauth/token",
                    "scopes": all_scopes(),
                }
            },
        }
    if mode == "apikey":
        kind = settings["API_KEY_AUTH_TYPE"]
        if kind == "custom":
            return {"type": "apiKey", "in": "header", "name": settings["API_KEY_HEADER"]}
        return {"type": "http", "scheme": kind}
    return None


def _resolve(doc: dict, node: Any) -> Any:
    """Follow a local `$ref` to components.parameters or components.responses."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith(("#/components/parameters/", "#/components/responses/")):
            break
        _, _, section, name = ref.split("/", 3)
        node = doc["components"][section][name]
    return copy.deepcopy(node)


def build_spec(base: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """Post-process flask-smorest's document for the given settings (see module docstring)."""
    doc = copy.deepcopy(dict(base))
    doc["openapi"] = "3.1.0"
    doc["info"] = {
        "title": settings["APP_TITLE"],
        "description": API_DESCRIPTION,
        "version": API_VERSION,
    }
    doc["servers"] = [{"url": settings["PUBLIC_URL"]}]
    scheme = security_scheme(settings)
    scheme_name = SECURITY_SCHEME_NAME.get(settings["ACTION_AUTH"])
    declared = {op.operation_id: op.scopes for _, op in all_operations()}

    for path_item in doc.get("paths", {}).values():
        shared = path_item.pop("parameters", [])
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            parameters = [_resolve(doc, p) for p in shared + operation.get("parameters", [])]
            if parameters:
                operation["parameters"] = parameters
            operation["responses"] = {
                code: _resolve(doc, response)
                for code, response in operation.get("responses", {}).items()
            }
            scopes = declared[operation["operationId"]]
            if scheme is None or not scopes:
                operation.pop("security", None)
                for code in ("401", "403"):
                    operation["responses"].pop(code, None)
                if scheme is not None:
                    # An operation that needs no credential says so with `security: []`.
                    operation["security"] = []
            else:
                operation["security"] = [
                    {scheme_name: list(scopes) if scheme["type"] == "oauth2" else []}
                ]
                if scheme["type"] != "oauth2":
                    operation["responses"].pop("403", None)

            for key in ("summary", "description"):
                if key in operation:
                    operation[key] = " ".join(operation[key].split())

    _add_schema_rules(doc)
    components = doc.setdefault("components", {})
    components.pop("parameters", None)
    components.pop("responses", None)
    components.setdefault("schemas", {})
    if scheme is not None:
        components["securitySchemes"] = {scheme_name: scheme}
    else:
        components.pop("securitySchemes", None)
    _drop_unused_schemas(doc)
    order = ("openapi", "info", "servers", "paths", "components", "tags")
    return {key: doc[key] for key in order if key in doc} | {
        k: v for k, v in doc.items() if k not in order
    }


def _add_schema_rules(doc: dict) -> None:
    for _, operation in all_operations():
        rules = getattr(operation.arguments, "JSON_SCHEMA", None)
        if not rules or operation.location != "json":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", operation.path)
        body = doc["paths"][path][operation.method.lower()]["requestBody"]
        schema = body["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        schema.update(rules)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _drop_unused_schemas(doc: dict) -> None:
    """Keep only schemas the paths reach, directly or through other schemas."""
    schemas = doc["components"]["schemas"]
    prefix = "#/components/schemas/"
    reached: set[str] = set()
    todo = [r[len(prefix) :] for r in _refs(doc.get("paths", {})) if r.startswith(prefix)]
    while todo:
        name = todo.pop()
        if name in reached or name not in schemas:
            continue
        reached.add(name)
        todo.extend(r[len(prefix) :] for r in _refs(schemas[name]) if r.startswith(prefix))
    for name in list(schemas):
        if name not in reached:
            del schemas[name]


def app_spec(app: Flask | None = None, **overrides: Any) -> dict[str, Any]:
    """The spec this app serves, or the one it would serve with other settings."""
    app = app or current_app
    api = app.extensions["todo_action_api"]
    if overrides:
        return build_spec(api.spec.to_dict(), {**app.config, **overrides})
    cache = app.extensions.setdefault("todo_action_spec", {})
    if "doc" not in cache:
        cache["doc"] = build_spec(api.spec.to_dict(), app.config)
    return cache["doc"]


def to_yaml(doc: dict[str, Any]) -> str:
    """YAML in the document's own key order, the way the checked-in copy is written."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def app_spec_text(fmt: str) -> str:
    """The served spec as JSON or YAML text, made once per app: settings never change while
    it runs, and the importer fetches the spec again on every import."""
    cache = current_app.extensions.setdefault("todo_action_spec", {})
    if fmt not in cache:
        doc = app_spec()
        cache[fmt] = current_app.json.dumps(doc) + "\n" if fmt == "json" else to_yaml(doc)
    return cache[fmt]
