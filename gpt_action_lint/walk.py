"""One walk over an OpenAPI document, shared by every check.

The document may be anything a team wrote, broken included, so nothing here trusts its shape:
`mapping` and `sequence` read a node as the type a rule needs or as empty, and the lists a
check loops over (operations, parameters, schemas) are found once, here, rather than by each
check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import unquote

Path = tuple[str | int, ...]

OPERATION_METHODS = ("get", "put", "post", "delete", "patch")
# Enough for any real spec; a YAML alias bomb expands far beyond it.
MAX_NODES = 1_000_000


def mapping(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def sequence(node: Any) -> list[Any]:
    return node if isinstance(node, list) else []


def types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    return {kind} if isinstance(kind, str) else {k for k in sequence(kind) if isinstance(k, str)}


class TooLarge(Exception):
    pass


def normalize(node: Any, counter: list[int] | None = None, stack: set[int] | None = None) -> Any:
    """A plain JSON-like copy: string keys (YAML reads `200:` as an int), no shared or
    recursive nodes (YAML aliases), bounded size (alias bombs)."""
    counter = [0] if counter is None else counter
    stack = set() if stack is None else stack
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise TooLarge
    if not isinstance(node, dict | list):
        return node
    if id(node) in stack:
        return None  # a recursive YAML alias: cut, so that the checks terminate
    stack.add(id(node))
    try:
        if isinstance(node, list):
            return [normalize(v, counter, stack) for v in node]
        return {_key(k): normalize(v, counter, stack) for k, v in node.items()}
    finally:
        stack.discard(id(node))


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if hasattr(key, "isoformat"):
        return key.isoformat()
    return str(key)


Found = tuple[Path, Any]  # a node, and where it is
Parameter = tuple[Path, str, str]  # where it is written, its name and location


@dataclass(frozen=True)
class Operation:
    url_path: str
    method: str
    node: dict[str, Any]

    @property
    def path(self) -> Path:
        return ("paths", self.url_path, self.method)


class Spec:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.components = mapping(doc.get("components"))
        self.paths = mapping(doc.get("paths"))
        self.operations = [
            Operation(url_path, method, item[method])
            for url_path, item in self.paths.items()
            if isinstance(item, dict)
            for method in OPERATION_METHODS
            if isinstance(item.get(method), dict)
        ]

    def resolve(self, node: Any) -> Any:
        """Follow local `$ref`s (for reading further); None when one leads nowhere."""
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                return None
            seen.add(ref)
            node = pointer(self.doc, ref)
        return node

    @cached_property
    def parameters(self) -> list[tuple[list[Found], list[Parameter], list[Parameter]]]:
        """Per operation, its parameters as ChatGPT sees them: the ones written (path-level
        first), the repeated ones (a name and location a second time in one list), and the
        merged list, where an operation's parameter replaces a path-level one of the same name
        and location."""
        found = []
        for op in self.operations:
            written: list[Found] = []
            repeated: list[Parameter] = []
            merged: dict[tuple[str, str], Parameter] = {}
            for holder, item in ((op.path[:2], self.paths[op.url_path]), (op.path, op.node)):
                listed: set[tuple[str, str]] = set()
                for i, node in enumerate(sequence(item.get("parameters"))):
                    if not isinstance(node, dict):
                        continue
                    path = holder + ("parameters", i)
                    written.append((path, node))
                    parameter = mapping(self.resolve(node))
                    name, where = parameter.get("name"), parameter.get("in")
                    if not isinstance(name, str) or not isinstance(where, str):
                        continue
                    if (name, where) in listed:
                        repeated.append((path, name, where))
                    else:
                        listed.add((name, where))
                        merged[name, where] = (path, name, where)
            found.append((written, repeated, list(merged.values())))
        return found

    @cached_property
    def all_parameters(self) -> list[Found]:
        """Every parameter as written: path-level, operation-level and in components."""
        holders = [(("paths", url_path), mapping(item)) for url_path, item in self.paths.items()]
        holders += [(op.path, op.node) for op in self.operations]
        found = [
            (path + ("parameters", i), parameter)
            for path, holder in holders
            for i, parameter in enumerate(sequence(holder.get("parameters")))
        ]
        components = mapping(self.components.get("parameters"))
        return found + [(("components", "parameters", n), p) for n, p in components.items()]

    @cached_property
    def schema_roots(self) -> list[Found]:
        """Every place the document puts a schema (not following $refs)."""
        roots = [
            (("components", "schemas", name), schema)
            for name, schema in mapping(self.components.get("schemas")).items()
        ]
        for path, parameter in self.all_parameters:
            roots += _parameter_schemas(path, parameter)
        for name, header in mapping(self.components.get("headers")).items():
            roots += _parameter_schemas(("components", "headers", name), header)
        for name, body in mapping(self.components.get("requestBodies")).items():
            roots += _content_schemas(("components", "requestBodies", name), body)
        for name, response in mapping(self.components.get("responses")).items():
            roots += _response_schemas(("components", "responses", name), response)
        for op in self.operations:
            roots += _content_schemas(op.path + ("requestBody",), op.node.get("requestBody"))
            for code, response in mapping(op.node.get("responses")).items():
                roots += _response_schemas(op.path + ("responses", code), response)
        return roots

    @cached_property
    def schemas(self) -> list[tuple[Path, dict[str, Any]]]:
        """Every schema and every schema nested in one."""
        return [node for root, schema in self.schema_roots for node in subschemas(root, schema)]

    @cached_property
    def input_schemas(self) -> list[tuple[Path, dict[str, Any]]]:
        """The schemas the model fills in, request bodies', with the ones they $ref."""
        roots: list[Found] = []
        for op in self.operations:
            body = self.resolve(op.node.get("requestBody"))
            roots += _content_schemas(op.path + ("requestBody",), body)
        found: list[tuple[Path, dict[str, Any]]] = []
        seen_refs: set[str] = set()
        while roots:
            root, schema = roots.pop(0)
            for path, node in subschemas(root, schema):
                found.append((path, node))
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith("#") and ref not in seen_refs:
                    seen_refs.add(ref)
                    target = pointer(self.doc, ref)
                    if isinstance(target, dict):
                        roots.append((pointer_path(ref), target))
        return found


def _parameter_schemas(path: Path, parameter: Any) -> list[Found]:
    parameter = mapping(parameter)
    own = [(path + ("schema",), parameter["schema"])] if "schema" in parameter else []
    return own + _content_schemas(path, parameter)


def _content_schemas(path: Path, holder: Any) -> list[Found]:
    return [
        (path + ("content", media, "schema"), media_type["schema"])
        for media, media_type in mapping(mapping(holder).get("content")).items()
        if "schema" in mapping(media_type)
    ]


def _response_schemas(path: Path, response: Any) -> list[Found]:
    found = _content_schemas(path, response)
    for name, header in mapping(mapping(response).get("headers")).items():
        found += _parameter_schemas(path + ("headers", name), header)
    return found


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = (
    "items additionalProperties not if then else contains propertyNames unevaluatedItems "
    "unevaluatedProperties additionalItems"
).split()


def subschemas(path: Path, schema: Any) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The schema and every schema nested in it, depth first, without following $refs."""
    todo: list[Found] = [(path, schema)]
    while todo:
        path, node = todo.pop()
        if not isinstance(node, dict):
            continue
        yield path, node
        nested: list[Found] = []
        for key in _SCHEMA_MAPS:
            nested += [(path + (key, name), s) for name, s in mapping(node.get(key)).items()]
        for key in _SCHEMA_LISTS:
            nested += [(path + (key, i), s) for i, s in enumerate(sequence(node.get(key)))]
        for key in _SCHEMA_ONE:
            value = node.get(key)
            if isinstance(value, list):  # OpenAPI 3.0 / draft 4 tuple items
                nested += [(path + (key, i), s) for i, s in enumerate(value)]
            else:
                nested.append((path + (key,), value))
        todo.extend(reversed(nested))


def all_refs(node: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    todo: list[Found] = [(path, node)]
    while todo:
        path, node = todo.pop()
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield path + ("$ref",), node["$ref"]
            todo.extend(
                (path + (k,), v) for k, v in reversed(node.items()) if isinstance(v, dict | list)
            )
        elif isinstance(node, list):
            todo.extend((path + (i,), v) for i, v in reversed(list(enumerate(node))))


def unescape(token: str) -> str:
    return unquote(token).replace("~1", "/").replace("~0", "~")


def pointer(doc: Any, ref: str) -> Any:
    """The node a local `#/...` reference points to, or None."""
    if ref != "#" and not ref.startswith("#/"):
        return None
    node = doc
    for token in pointer_path(ref):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def pointer_path(ref: str) -> tuple[str, ...]:
    return tuple(unescape(t) for t in ref[2:].split("/")) if ref.startswith("#/") else ()
