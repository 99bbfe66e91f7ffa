"""The checks: each takes the walked spec and yields (rule key, path, message arguments) per
problem.

Level, source and message are not set here: `rules.RULES` holds them, one row per rule key, and
names the check that yields it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import openapi_spec_validator as osv
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from openapi_spec_validator.validation import exceptions as osv_errors

from gpt_action_lint.walk import Path, Spec, all_refs, mapping, pointer, sequence, types, unescape

Finding = tuple[str, Path, dict[str, Any]]
Findings = Iterator[Finding]

OPERATION_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_OPERATIONS = 30
MAX_SUMMARY = 300
MAX_PARAMETER_DESCRIPTION = 700
# OAuth providers ChatGPT lets live on another domain than the API (OpenAI's production notes).
OAUTH_EXEMPT_DOMAINS = (
    "google.com googleapis.com microsoft.com microsoftonline.com live.com adobe.com adobelogin.com"
).split()
MAX_VALIDATOR_PROBLEMS = 50
CONSEQUENTIAL = "x-openai-isConsequential"
_META_VALIDATOR = Draft202012Validator(Draft202012Validator.META_SCHEMA)


def show(value: Any, limit: int = 80) -> str:
    """A value quoted for a message, cut to `limit` characters."""
    text = value if isinstance(value, str) else repr(value)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"'{text}'" if isinstance(value, str) else text


def clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- document -----------------------------------------------------------------------------------


def openapi_version(spec: Spec) -> Findings:
    version, swagger = spec.doc.get("openapi"), spec.doc.get("swagger")
    if version == "3.1.0":
        return
    if version is None:
        key = "openapi-version:swagger" if swagger else "openapi-version:missing"
    elif not isinstance(version, str):
        key = "openapi-version:type"
    elif version.startswith("3.1."):
        key = "openapi-version:3.1.x"
    elif version.startswith("3.0."):
        key = "openapi-version:3.0"
    else:
        key = "openapi-version"
    yield key, ("openapi",), {"version": show(version), "swagger": show(swagger)}


def servers(spec: Spec) -> Findings:
    servers = spec.doc.get("servers")
    if not isinstance(servers, list) or not servers:
        yield "servers", ("servers",) if "servers" in spec.doc else (), {}
    elif len(servers) > 1:
        yield "servers:many", ("servers",), {"count": len(servers)}


def server_url(spec: Spec) -> Findings:
    servers = sequence(spec.doc.get("servers"))
    if not servers:
        return  # reported by `servers`
    url = mapping(servers[0]).get("url")
    path: Path = ("servers", 0, "url")
    if not isinstance(url, str) or not url.strip():
        yield "server-url:missing", ("servers", 0), {}
        return
    shown = {"url": show(url)}
    if "{" in url:
        yield "server-url:variables", path, shown
        return
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        yield "server-url:invalid", path, {**shown, "error": exc}
        return
    if not parts.scheme or not parts.netloc:
        yield "server-url", path, shown
        return
    if parts.scheme.lower() != "https":
        yield "server-https", path, shown
    if port is not None and port != 443:
        yield "server-https:port", path, {**shown, "port": port}
    elif port == 443:
        yield "server-url:port", path, shown
    host = parts.netloc.rpartition("@")[2]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if host != host.lower():
        yield "server-url:case", path, {"host": show(host)}
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        yield "server-url:query", path, shown
    if _private_host(parts.hostname or ""):
        yield "server-public", path, {"host": show(parts.hostname)}


def _private_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def components_schemas(spec: Spec) -> Findings:
    if "components" not in spec.doc:
        yield "components-schemas:components", (), {}
    elif not isinstance(spec.doc["components"], dict):
        return  # the OpenAPI validator reports the wrong type
    elif "schemas" not in spec.components:
        yield "components-schemas:missing", ("components",), {}
    elif not isinstance(spec.components["schemas"], dict):
        yield "components-schemas", ("components", "schemas"), {}


# --- operations ---------------------------------------------------------------------------------


def unsupported_methods(spec: Spec) -> Findings:
    for url_path, item in spec.paths.items():
        for method in ("head", "options", "trace"):
            if method in mapping(item):
                args = {"url_path": url_path, "method": method, "METHOD": method.upper()}
                yield "unsupported-method", ("paths", url_path, method), args


def operation_count(spec: Spec) -> Findings:
    if len(spec.operations) > MAX_OPERATIONS:
        yield "operation-count", ("paths",), {"count": len(spec.operations)}


def operation_ids(spec: Spec) -> Findings:
    first: dict[str, tuple[str, str]] = {}
    for op in spec.operations:
        op_id = op.node.get("operationId")
        if op_id is None or op_id == "":
            yield "operation-id-missing", op.path, {"url_path": op.url_path, "method": op.method}
            continue
        path = op.path + ("operationId",)
        if not isinstance(op_id, str) or not OPERATION_ID.match(op_id):
            yield "operation-id-format", path, {"id": show(op_id)}
        if not isinstance(op_id, str):
            continue
        if op_id in first:
            method, url_path = first[op_id]
            args = {"id": show(op_id), "METHOD": method.upper(), "url_path": url_path}
            yield "operation-id-unique", path, args
        else:
            first[op_id] = (op.method, op.url_path)


def text_lengths(spec: Spec) -> Findings:
    described = [(("paths", p), item) for p, item in spec.paths.items()]
    described += [(op.path, op.node) for op in spec.operations]
    for path, node in described:
        for key, rule in (("summary", "summary-length"), ("description", "description-length")):
            text = mapping(node).get(key)
            if isinstance(text, str) and len(text) > MAX_SUMMARY:
                yield rule, path + (key,), {"length": len(text)}
    for path, parameter in spec.all_parameters:
        text = mapping(parameter).get("description")
        if isinstance(text, str) and len(text) > MAX_PARAMETER_DESCRIPTION:
            yield "parameter-description-length", path + ("description",), {"length": len(text)}


def consequential(spec: Spec) -> Findings:
    for op in spec.operations:
        path, method = op.path + (CONSEQUENTIAL,), op.method.upper()
        if CONSEQUENTIAL not in op.node:
            default = "false" if op.method == "get" else "true"
            yield "consequential-missing", op.path, {"METHOD": method, "default": default}
        elif not isinstance(op.node[CONSEQUENTIAL], bool):
            yield "consequential-type", path, {"value": show(op.node[CONSEQUENTIAL])}
        elif op.node[CONSEQUENTIAL] is False and op.method != "get":
            yield "consequential-false", path, {"METHOD": method}


def parameters(spec: Spec) -> Findings:
    for written, repeated, merged in spec.parameters:
        for path, parameter in written:
            if "$ref" in parameter:
                yield "parameter-ref", path, {"ref": show(parameter["$ref"])}
        for path, name, location in repeated:
            yield "duplicate-parameter", path, {"name": show(name), "location": location}
        first: dict[str, str] = {}
        for path, name, location in merged:
            args = {"name": show(name), "location": location}
            if location.lower() == "header":
                yield "header-parameter", path, args
            elif location.lower() == "cookie":
                yield "cookie-parameter", path, args
            if name in first:
                args = {**args, "first": first[name], "raw_name": name}
                yield "duplicate-parameter:locations", path, args
            else:
                first[name] = location


def field_names(spec: Spec) -> Findings:
    for _written, _repeated, merged in spec.parameters:
        for path, name, _location in merged:
            if re.search(r"\s", name):
                yield "field-name:parameter", path + ("name",), {"name": show(name)}
    for path, node in spec.input_schemas:
        for name in mapping(node.get("properties")):
            if re.search(r"\s", name):
                yield "field-name", path + ("properties", name), {"name": show(name)}


def media_types(spec: Spec) -> Findings:
    for op in spec.operations:
        body = mapping(spec.resolve(op.node.get("requestBody")))
        for media in mapping(body.get("content")):
            path, kind = op.path + ("requestBody", "content", media), _media_kind(media)
            if kind.startswith(("image/", "video/")):
                yield "media-type", path, {"kind": kind}
            elif kind != "application/json":
                yield "request-body-json", path, {"media": show(media)}
        for code, response in mapping(op.node.get("responses")).items():
            for media in mapping(mapping(spec.resolve(response)).get("content")):
                path, kind = op.path + ("responses", code, "content", media), _media_kind(media)
                if kind.startswith(("image/", "video/")):
                    yield "media-type", path, {"kind": kind}


def _media_kind(media: str) -> str:
    return media.split(";")[0].strip().lower()


# --- security -----------------------------------------------------------------------------------


def security(spec: Spec) -> Findings:
    schemes = mapping(spec.components.get("securitySchemes"))
    if len(schemes) > 1:
        args = {"count": len(schemes), "names": ", ".join(map(repr, schemes))}
        yield "security-schemes-count", ("components", "securitySchemes"), args
    requirements = [(("security",), spec.doc.get("security"))]
    requirements += [(op.path + ("security",), op.node.get("security")) for op in spec.operations]
    for path, requirement_list in requirements:
        for i, requirement in enumerate(sequence(requirement_list)):
            for name in mapping(requirement):
                if name not in schemes:
                    yield "security-undefined", path + (i, name), {"name": show(name)}


def security_schemes(spec: Spec) -> Findings:
    for name, raw in mapping(spec.components.get("securitySchemes")).items():
        path: Path = ("components", "securitySchemes", name)
        scheme = mapping(spec.resolve(raw))
        kind = scheme.get("type")
        if kind == "apiKey" and scheme.get("in") != "header":
            args = {"location": show(scheme.get("in"))}
            yield "security-scheme-type:apikey", path + ("in",), args
        elif kind == "http" and str(scheme.get("scheme", "")).lower() not in ("basic", "bearer"):
            args = {"scheme": show(scheme.get("scheme"))}
            yield "security-scheme-type:http", path + ("scheme",), args
        elif kind in ("openIdConnect", "mutualTLS"):
            yield "security-scheme-type", path + ("type",), {"type": kind}
        elif kind == "oauth2":
            flows = mapping(scheme.get("flows"))
            others = sorted(set(flows) - {"authorizationCode"})
            if others:
                yield "oauth-flow", path + ("flows",), {"others": ", ".join(others)}
            elif "authorizationCode" not in flows:
                yield "oauth-flow:missing", path + ("flows",), {}
            flow = mapping(flows.get("authorizationCode"))
            yield from _oauth_domains(spec, path + ("flows", "authorizationCode"), flow)


def _oauth_domains(spec: Spec, path: Path, flow: dict) -> Findings:
    servers = sequence(spec.doc.get("servers"))
    server_url = mapping(servers[0]).get("url") if servers else None
    try:
        server_host = urlsplit(server_url).hostname if isinstance(server_url, str) else None
    except ValueError:
        return
    if not server_host:
        return
    for key in ("authorizationUrl", "tokenUrl", "refreshUrl"):
        url = flow.get(key)
        try:
            host = urlsplit(urljoin(server_url, url)).hostname if isinstance(url, str) else None
        except ValueError:
            continue
        if not host or host == server_host:
            continue
        if any(host == d or host.endswith("." + d) for d in OAUTH_EXEMPT_DOMAINS):
            continue
        args = {"key": key, "host": show(host), "server": show(server_host)}
        if _common_labels(host, server_host) >= 2:
            yield "oauth-domain:subdomain", path + (key,), args
        else:
            yield "oauth-domain", path + (key,), args


def _common_labels(a: str, b: str) -> int:
    shared = 0
    for x, y in zip(reversed(a.split(".")), reversed(b.split(".")), strict=False):
        if x != y:
            break
        shared += 1
    return shared


# --- references ---------------------------------------------------------------------------------


def refs(spec: Spec) -> Findings:
    for path, ref in all_refs(spec.doc):
        if not ref.startswith("#"):
            yield "external-ref", path, {"ref": show(ref)}
        elif pointer(spec.doc, ref) is None:
            yield "unresolved-ref", path, {"ref": show(ref)}


def circular_refs(spec: Spec) -> Findings:
    schemas = mapping(spec.components.get("schemas"))
    prefix = "#/components/schemas/"
    edges = {
        name: sorted(
            {unescape(r[len(prefix) :]) for _, r in all_refs(schema) if r.startswith(prefix)}
            & set(schemas)
        )
        for name, schema in schemas.items()
    }
    for cycle in _cycles(edges):
        cycle_text = " -> ".join(cycle + [cycle[0]])
        yield "circular-ref", ("components", "schemas", cycle[0]), {"cycle": cycle_text}


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of schemas (Kosaraju's two searches), walked from
    the group's first member for a readable A -> B -> A."""
    # Iterative searches, so that long reference chains cannot exhaust Python's stack.
    finished: list[str] = []
    seen: set[str] = set()
    for start in edges:
        if start in seen:
            continue
        seen.add(start)
        todo = [(start, iter(edges[start]))]
        while todo:
            node, successors = todo[-1]
            nxt = next((n for n in successors if n not in seen), None)
            if nxt is None:
                finished.append(todo.pop()[0])
            else:
                seen.add(nxt)
                todo.append((nxt, iter(edges[nxt])))
    referrers: dict[str, list[str]] = {name: [] for name in edges}
    for name, targets in edges.items():
        for target in targets:
            referrers[target].append(name)
    grouped: set[str] = set()
    cycles = []
    for root in reversed(finished):
        if root in grouped:
            continue
        group, todo_names = {root}, [root]
        while todo_names:
            for name in referrers[todo_names.pop()]:
                if name not in grouped and name not in group:
                    group.add(name)
                    todo_names.append(name)
        grouped |= group
        if len(group) > 1 or root in edges[root]:
            cycle, on_cycle = [min(group)], {min(group)}
            while (nxt := next(n for n in edges[cycle[-1]] if n in group)) not in on_cycle:
                cycle.append(nxt)
                on_cycle.add(nxt)
            cycles.append(cycle)
    return sorted(cycles)


# --- schemas ------------------------------------------------------------------------------------


def object_properties(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        if "object" not in types(node):
            continue
        if "properties" not in node:
            yield "object-properties", path, {}
        elif node["properties"] == {}:
            yield "object-properties:empty", path + ("properties",), {}


def empty_enum(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        if node.get("enum") == []:
            yield "empty-enum", path + ("enum",), {}


def empty_items(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        if node.get("items") == {}:
            yield "empty-items", path + ("items",), {}
        elif "array" in types(node) and "items" not in node and "prefixItems" not in node:
            yield "empty-items:missing", path, {}


def anyof_null(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        for keyword in ("anyOf", "oneOf"):
            if any(types(mapping(s)) == {"null"} for s in sequence(node.get(keyword))):
                yield "anyof-null", path + (keyword,), {"keyword": keyword}


def ref_siblings(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        if "$ref" in node and any(k in node for k in ("oneOf", "anyOf", "allOf")):
            yield "ref-siblings", path, {}


def pattern_properties(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        if "patternProperties" in node:
            yield "pattern-properties", path + ("patternProperties",), {}


def file_fields(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        properties = mapping(node.get("properties"))
        if "openaiFileIdRefs" in properties:
            refs = mapping(spec.resolve(properties["openaiFileIdRefs"]))
            items = mapping(spec.resolve(refs.get("items")))
            if types(refs) != {"array"} or types(items) != {"string"}:
                yield "file-id-refs", path + ("properties", "openaiFileIdRefs"), {}
        if "openaiFileResponse" in properties:
            if types(mapping(spec.resolve(properties["openaiFileResponse"]))) != {"array"}:
                yield "file-response", path + ("properties", "openaiFileResponse"), {}


def free_form_input(spec: Spec) -> Findings:
    for path, node in spec.input_schemas:
        extra = node.get("additionalProperties")
        if extra is True or (isinstance(extra, dict) and extra):
            yield "free-form-input", path + ("additionalProperties",), {}


# --- validity -----------------------------------------------------------------------------------


def schema_valid(spec: Spec) -> Findings:
    """JSON Schema 2020-12 validity of every schema: openapi-spec-validator checks OpenAPI 3.1
    schemas only shallowly and stops at the first malformed one."""
    version = spec.doc.get("openapi")
    if isinstance(version, str) and version.startswith("3.0"):
        return  # the 3.0 validator checks schemas fully
    for root, schema in spec.schema_roots:
        for error in _META_VALIDATOR.iter_errors(schema):
            if error.context:
                error = best_match(error.context) or error
            path = root + tuple(p for p in error.absolute_path if isinstance(p, str | int))
            yield "schema-valid", path, {"error": clip(str(error.message))}


# With no resolver handlers, a validator never fetches or reads an external `$ref` (a spec must
# not make the linter reach out to arbitrary URLs or local files); it reports it instead.
_VALIDATORS = {
    version: type(f"Offline{version}", (validator,), {"resolver_handlers": {}})
    for version, validator in (
        ("3.0", osv.OpenAPIV30SpecValidator),
        ("3.1", osv.OpenAPIV31SpecValidator),
        ("3.2", osv.OpenAPIV32SpecValidator),
    )
}
# operation-id-unique and duplicate-parameter report these, with a precise path.
_REPORTED_ELSEWHERE = (osv_errors.DuplicateOperationIDError, osv_errors.ParameterDuplicateError)


def openapi_valid(spec: Spec) -> Findings:
    """openapi-spec-validator's findings, for the OpenAPI version the document declares."""
    version = spec.doc.get("openapi")
    version = version if isinstance(version, str) else ""
    validator = _VALIDATORS.get(version[:3], _VALIDATORS["3.1"])
    count = 0
    try:
        for error in validator(spec.doc).iter_errors():
            if isinstance(error, _REPORTED_ELSEWHERE):
                continue
            count += 1
            if count > MAX_VALIDATOR_PROBLEMS:
                continue
            if error.context:
                error = best_match(error.context) or error
            path = tuple(p for p in error.absolute_path if isinstance(p, str | int))
            yield "openapi-valid", path, {"error": clip(str(error.message))}
    except Exception as exc:  # it raises on unresolvable $refs, and on some invalid documents
        # Its deeper checks assume a structurally valid document; after structural errors
        # (its own or schema-valid's), a stop is expected and those errors say what to fix.
        if count == 0 and next(schema_valid(spec), None) is None:
            reason = (
                "the document (or a $ref loop) is nested too deeply"
                if isinstance(exc, RecursionError)
                else _validator_reason(exc)
            )
            yield "openapi-valid:stopped", (), {"reason": clip(reason)}
    if count > MAX_VALIDATOR_PROBLEMS:
        yield "openapi-valid:more", (), {"count": count - MAX_VALIDATOR_PROBLEMS}


def _validator_reason(exc: Exception) -> str:
    name = type(exc).__name__
    if name in ("PointerToNowhere", "Unresolvable", "NoSuchResource", "Unretrievable"):
        ref = str(getattr(exc, "ref", None) or getattr(exc, "uri", None) or exc).split(" ")[0]
        return f"cannot resolve $ref {show('#' + ref if ref.startswith('/') else ref)}"
    return f"{name}: {exc}"
