"""The checks: each takes the walked spec and yields (rule key, path, message) per problem.

Level and source are not set here: `rules.RULES` holds them, one row per rule key, and names
the check that yields it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import openapi_spec_validator as osv
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from openapi_spec_validator.validation import exceptions as osv_errors

from gpt_action_lint.problem import clip, show
from gpt_action_lint.walk import Path, Spec, all_refs, mapping, pointer, sequence, types, unescape

Finding = tuple[str, Path, str]
Findings = Iterator[Finding]

SKIPPED_METHODS = ("head", "options", "trace")
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
NOT_A_URL = 'ChatGPT says "Could not find a valid URL in `servers`"'
NOT_UNDER_ROOT = '("not under the root origin")'
UNDECLARED = "(UnrecognizedKwargsError)"
_META_VALIDATOR = Draft202012Validator(Draft202012Validator.META_SCHEMA)


# --- document -----------------------------------------------------------------------------------


def openapi_version(spec: Spec) -> Findings:
    version = spec.doc.get("openapi")
    fix = 'use openapi: "3.1.0"'
    if version == "3.1.0":
        return
    if isinstance(version, str) and version.startswith("3.1."):
        message = f"openapi is {show(version)}; one importer version accepted only '3.1.0', {fix}"
        yield "openapi-version:3.1.x", ("openapi",), message
        return
    if version is None:
        swagger = spec.doc.get("swagger")
        what = f"a Swagger {show(swagger)} document" if swagger else "openapi is missing"
        message = f"{what}; ChatGPT imports OpenAPI 3.1.0 only, {fix}"
    elif not isinstance(version, str):
        message = f"openapi is {show(version)}, not a string; {fix} (quoted in YAML)"
    elif version.startswith("3.0."):
        message = (
            f'openapi is {show(version)}; ChatGPT rejects 3.0.x ("Input should be '
            f"'3.1.1' or '3.1.0'\"), {fix}"
        )
    else:
        message = f"openapi is {show(version)}; ChatGPT imports OpenAPI 3.1.0, {fix}"
    yield "openapi-version", ("openapi",), message


def servers(spec: Spec) -> Findings:
    servers = spec.doc.get("servers")
    if not isinstance(servers, list) or not servers:
        where = ("servers",) if "servers" in spec.doc else ()
        yield "servers", where, f"no servers; {NOT_A_URL}: add exactly one absolute https URL"
    elif len(servers) > 1:
        yield (
            "servers",
            ("servers",),
            f'{len(servers)} servers; ChatGPT uses only the first ("Multiple servers found"), '
            "keep exactly one",
        )


def server_url(spec: Spec) -> Findings:
    servers = sequence(spec.doc.get("servers"))
    if not servers:
        return  # reported by `servers`
    url = mapping(servers[0]).get("url")
    path: Path = ("servers", 0, "url")
    if not isinstance(url, str) or not url.strip():
        yield "server-url", ("servers", 0), f"the first server has no url; {NOT_A_URL}"
        return
    if "{" in url:
        yield (
            "server-url:inferred",
            path,
            f"server url {show(url)} has variables; give the literal https URL ChatGPT should call",
        )
        return
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        yield "server-url", path, f"server url {show(url)} is not a valid URL ({exc})"
        return
    if not parts.scheme or not parts.netloc:
        yield (
            "server-url",
            path,
            f"server url {show(url)} is not absolute; {NOT_A_URL}, use https://host[/prefix]",
        )
        return
    if parts.scheme.lower() != "https":
        yield (
            "server-https",
            path,
            f"server url {show(url)} is not https; ChatGPT calls actions over TLS 1.2+ on port "
            "443 only",
        )
    if port is not None and port != 443:
        yield (
            "server-https",
            path,
            f"server url {show(url)} has port {port}; ChatGPT calls actions on port 443 only",
        )
    elif port == 443:
        yield (
            "server-url",
            path,
            f"server url {show(url)} names port 443; explicit ports make ChatGPT ignore the "
            f"server {NOT_UNDER_ROOT}, drop it",
        )
    host = parts.netloc.rpartition("@")[2]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if host != host.lower():
        yield (
            "server-url",
            path,
            f"server host {show(host)} has upper-case letters; ChatGPT ignores such servers "
            f"{NOT_UNDER_ROOT}, write it in lower case",
        )
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        yield (
            "server-url:inferred",
            path,
            f"server url {show(url)} has a query or fragment; ChatGPT appends paths to it, keep "
            "only scheme, host and an optional path prefix",
        )
    if _private_host(parts.hostname or ""):
        yield (
            "server-public",
            path,
            f"server host {show(parts.hostname)} is not publicly reachable; ChatGPT calls from "
            "OpenAI's servers and needs a valid public certificate",
        )


def _server_url(spec: Spec) -> str | None:
    servers = sequence(spec.doc.get("servers"))
    url = mapping(servers[0]).get("url") if servers else None
    return url if isinstance(url, str) else None


def _private_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def components_schemas(spec: Spec) -> Findings:
    message = (
        'ChatGPT requires components.schemas to be an object, even {} ("In components '
        'section, schemas subsection is not an object")'
    )
    if "components" not in spec.doc:
        yield "components-schemas", (), f"no components; {message}"
    elif not isinstance(spec.doc["components"], dict):
        return  # the OpenAPI validator reports the wrong type
    elif "schemas" not in spec.components:
        yield "components-schemas", ("components",), f"components.schemas is missing; {message}"
    elif not isinstance(spec.components["schemas"], dict):
        yield (
            "components-schemas",
            ("components", "schemas"),
            f"components.schemas is not an object; {message}",
        )


# --- operations ---------------------------------------------------------------------------------


def unsupported_methods(spec: Spec) -> Findings:
    for url_path, item in spec.paths.items():
        for method in SKIPPED_METHODS:
            if method in mapping(item):
                yield (
                    "unsupported-method",
                    ("paths", url_path, method),
                    f'ChatGPT skips {method.upper()} operations ("Path {url_path} has '
                    f'unrecognized method {method}"); use GET, POST, PUT, PATCH or DELETE',
                )


def operation_count(spec: Spec) -> Findings:
    if len(spec.operations) > MAX_OPERATIONS:
        yield (
            "operation-count",
            ("paths",),
            f"{len(spec.operations)} operations; ChatGPT refuses more than {MAX_OPERATIONS} "
            '("OpenAPI spec can have a maximum of 30 operations")',
        )


def operation_ids(spec: Spec) -> Findings:
    first: dict[str, tuple[str, str]] = {}
    for op in spec.operations:
        op_id = op.node.get("operationId")
        if op_id is None or op_id == "":
            yield (
                "operation-id-missing",
                op.path,
                f'no operationId; ChatGPT drops the operation ("In path {op.url_path}, method '
                f'{op.method} is missing operationId; skipping")',
            )
            continue
        if not isinstance(op_id, str) or not OPERATION_ID.match(op_id):
            yield (
                "operation-id-format",
                op.path + ("operationId",),
                f"operationId {show(op_id)} is not a valid function name; ChatGPT uses it as "
                "one, so match ^[a-zA-Z0-9_-]{1,64}$",
            )
        if not isinstance(op_id, str):
            continue
        if op_id in first:
            method, url_path = first[op_id]
            yield (
                "operation-id-unique",
                op.path + ("operationId",),
                f"operationId {show(op_id)} is also used by {method.upper()} {url_path}; "
                "operationIds must be unique",
            )
        else:
            first[op_id] = (op.method, op.url_path)


def text_lengths(spec: Spec) -> Findings:
    described = [(("paths", p), item) for p, item in spec.paths.items()]
    described += [(op.path, op.node) for op in spec.operations]
    for path, node in described:
        for key, rule in (("summary", "summary-length"), ("description", "description-length")):
            text = mapping(node).get(key)
            if isinstance(text, str) and len(text) > MAX_SUMMARY:
                yield (
                    rule,
                    path + (key,),
                    f"{key} is {len(text)} characters; ChatGPT allows at most {MAX_SUMMARY}",
                )
    for path, parameter in spec.all_parameters:
        text = mapping(parameter).get("description")
        if isinstance(text, str) and len(text) > MAX_PARAMETER_DESCRIPTION:
            yield (
                "parameter-description-length",
                path + ("description",),
                f"parameter description is {len(text)} characters; ChatGPT allows at most "
                f"{MAX_PARAMETER_DESCRIPTION}",
            )


def consequential(spec: Spec) -> Findings:
    for op in spec.operations:
        if CONSEQUENTIAL not in op.node:
            default = "false" if op.method == "get" else "true"
            yield (
                "consequential-missing",
                op.path,
                f"{CONSEQUENTIAL} is not set, so ChatGPT applies its default for "
                f"{op.method.upper()} ({default}); set it explicitly",
            )
            continue
        value = op.node[CONSEQUENTIAL]
        if not isinstance(value, bool):
            yield (
                "consequential-type",
                op.path + (CONSEQUENTIAL,),
                f"{CONSEQUENTIAL} is {show(value)}; it must be the boolean true or false",
            )
        elif value is False and op.method != "get":
            yield (
                "consequential-false",
                op.path + (CONSEQUENTIAL,),
                f'{CONSEQUENTIAL} is false on a {op.method.upper()}, so users can "Always '
                'allow" this change without confirming it; make sure that is safe',
            )


def parameters(spec: Spec) -> Findings:
    for params in spec.parameters:
        for path, raw in params.raw:
            if "$ref" in raw:
                yield (
                    "parameter-ref",
                    path,
                    f"parameter is a $ref ({show(raw['$ref'])}); ChatGPT does not resolve these "
                    '("has missing or non-string name; skipping"), write the parameter inline',
                )
        for p in params.repeated:
            yield (
                "duplicate-parameter",
                p.path,
                f"parameter {show(p.name)} in {p.location} is listed twice; parameters must be "
                "unique by name and location",
            )
        located: dict[str, str] = {}
        for p in params.merged:
            if p.location.lower() == "header":
                yield (
                    "header-parameter",
                    p.path,
                    f'header parameter {show(p.name)}: "Custom headers are not supported"; '
                    "ChatGPT ignores it (credentials come from the Authentication dialog)",
                )
            elif p.location.lower() == "cookie":
                yield (
                    "cookie-parameter",
                    p.path,
                    f"cookie parameter {show(p.name)}: ChatGPT sends no cookies",
                )
            if p.name in located:
                yield (
                    "duplicate-parameter:locations",
                    p.path,
                    f"parameter {show(p.name)} is in both {located[p.name]} and {p.location}; "
                    f'ChatGPT skips the operation ("parameter {p.name} is duplicated; skipping '
                    'function due to errors")',
                )
            else:
                located[p.name] = p.location


def field_names(spec: Spec) -> Findings:
    for params in spec.parameters:
        for p in params.merged:
            if re.search(r"\s", p.name):
                yield (
                    "field-name",
                    p.path + ("name",),
                    f"parameter name {show(p.name)} has white space; the model fails to send "
                    f"such arguments {UNDECLARED}",
                )
    for path, node in spec.input_schemas:
        for name in mapping(node.get("properties")):
            if re.search(r"\s", name):
                yield (
                    "field-name",
                    path + ("properties", name),
                    f"field name {show(name)} has white space; the model fails to send it "
                    f"{UNDECLARED}",
                )


def media_types(spec: Spec) -> Findings:
    for op in spec.operations:
        body = mapping(spec.resolve(op.node.get("requestBody")))
        for media in mapping(body.get("content")):
            path = op.path + ("requestBody", "content", media)
            kind = _media_kind(media)
            if _binary(kind):
                yield _binary_media(kind, path)
            elif kind != "application/json":
                yield (
                    "request-body-json",
                    path,
                    f"request body is {show(media)}; ChatGPT sends only application/json "
                    "bodies (multipart uploads arrive without the file; use openaiFileIdRefs)",
                )
        for code, response in mapping(op.node.get("responses")).items():
            for media in mapping(mapping(spec.resolve(response)).get("content")):
                if _binary(_media_kind(media)):
                    path = op.path + ("responses", code, "content", media)
                    yield _binary_media(_media_kind(media), path)


def _media_kind(media: str) -> str:
    return media.split(";")[0].strip().lower()


def _binary(kind: str) -> bool:
    return kind.startswith(("image/", "video/"))


def _binary_media(kind: str, path: Path) -> Finding:
    return (
        "media-type",
        path,
        f'{kind} content: "Requests and responses can only contain text (no images or '
        'video)"; return files through openaiFileResponse',
    )


# --- security -----------------------------------------------------------------------------------


def security(spec: Spec) -> Findings:
    schemes = mapping(spec.components.get("securitySchemes"))
    if len(schemes) > 1:
        yield (
            "security-schemes-count",
            ("components", "securitySchemes"),
            f"{len(schemes)} security schemes ({', '.join(map(repr, schemes))}); ChatGPT "
            'supports one ("Found multiple security schemes, only 1 is supported")',
        )
    requirements = [(("security",), spec.doc.get("security"))]
    requirements += [(op.path + ("security",), op.node.get("security")) for op in spec.operations]
    for path, requirement_list in requirements:
        for i, requirement in enumerate(sequence(requirement_list)):
            for name in mapping(requirement):
                if name not in schemes:
                    yield (
                        "security-undefined",
                        path + (i, name),
                        f"security scheme {show(name)} is not defined in "
                        "components.securitySchemes",
                    )


def security_schemes(spec: Spec) -> Findings:
    offered = (
        "ChatGPT offers None, API key (Basic, Bearer or a custom header) and OAuth "
        "(authorization code)"
    )
    for name, raw in mapping(spec.components.get("securitySchemes")).items():
        path: Path = ("components", "securitySchemes", name)
        scheme = mapping(spec.resolve(raw))
        kind = scheme.get("type")
        if kind == "apiKey" and scheme.get("in") != "header":
            yield (
                "security-scheme-type",
                path + ("in",),
                f"API key in {show(scheme.get('in'))}; ChatGPT sends API keys only in a "
                f"header. {offered}",
            )
        elif kind == "http" and str(scheme.get("scheme", "")).lower() not in ("basic", "bearer"):
            yield (
                "security-scheme-type",
                path + ("scheme",),
                f"http scheme {show(scheme.get('scheme'))} is not one ChatGPT can send. {offered}",
            )
        elif kind in ("openIdConnect", "mutualTLS"):
            yield (
                "security-scheme-type",
                path + ("type",),
                f"{kind} is not one ChatGPT can use. {offered}",
            )
        elif kind == "oauth2":
            flows = mapping(scheme.get("flows"))
            others = sorted(set(flows) - {"authorizationCode"})
            if "authorizationCode" not in flows or others:
                yield (
                    "oauth-flow",
                    path + ("flows",),
                    "ChatGPT's OAuth is the authorization code grant only; "
                    f"{'drop ' + ', '.join(others) if others else 'add it'}",
                )
            flow = mapping(flows.get("authorizationCode"))
            yield from _oauth_domains(spec, path + ("flows", "authorizationCode"), flow)


def _oauth_domains(spec: Spec, path: Path, flow: dict) -> Findings:
    server_url = _server_url(spec)
    try:
        server_host = urlsplit(server_url).hostname if server_url else None
    except ValueError:
        return
    if not server_host:
        return
    for key in ("authorizationUrl", "tokenUrl", "refreshUrl"):
        url = flow.get(key)
        if not isinstance(url, str):
            continue
        try:
            host = urlsplit(urljoin(str(server_url), url)).hostname or ""
        except ValueError:
            continue
        if not host or host == server_host:
            continue
        if any(host == d or host.endswith("." + d) for d in OAUTH_EXEMPT_DOMAINS):
            continue
        if _common_labels(host, server_host) >= 2:
            yield (
                "oauth-domain:subdomain",
                path + (key,),
                f"{key} host {show(host)} differs from the server host {show(server_host)}; "
                "sub-domains of one domain are commonly assumed to work, but OpenAI asks for "
                "the same domain",
            )
        else:
            yield (
                "oauth-domain",
                path + (key,),
                f"{key} host {show(host)} is not on the server's domain {show(server_host)}; "
                "OAuth must use the API's domain (only Google, Microsoft and Adobe are exempt)",
            )


def _common_labels(a: str, b: str) -> int:
    shared = 0
    for x, y in zip(reversed(a.split(".")), reversed(b.split(".")), strict=False):
        if x != y:
            break
        shared += 1
    return shared


# --- references ---------------------------------------------------------------------------------


def refs(spec: Spec) -> Findings:
    for path, ref in spec.refs:
        if not ref.startswith("#"):
            yield (
                "external-ref",
                path,
                f"$ref {show(ref)} points outside the document; ChatGPT imports one document, "
                "so put what it refers to under components",
            )
        elif pointer(spec.doc, ref) is None:
            yield "unresolved-ref", path, f"$ref {show(ref)} points to nothing in this document"


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
        yield (
            "circular-ref",
            ("components", "schemas", cycle[0]),
            f"schemas refer to themselves ({' -> '.join(cycle + [cycle[0]])}); ChatGPT refuses "
            'this ("Components section contains a circular dependency"), flatten or cut the '
            "cycle",
        )


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """One representative cycle per strongly connected group of schemas (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in edges:
        if start in index:
            continue
        # Iterative, so that long reference chains cannot exhaust Python's stack.
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = edges.get(node, [])
            if i < len(successors):
                work.append((node, i + 1))
                nxt = successors[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in edges.get(node, []):
                    groups.append(group)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    cycles = []
    for group in groups:
        members = set(group)
        first = min(group)
        # Walk inside the group back to its first member, for a readable A -> B -> A.
        path, seen, node = [first], {first}, first
        while True:
            nxt = next(n for n in edges[node] if n in members)
            if nxt == first or nxt in seen:
                break
            path.append(nxt)
            seen.add(nxt)
            node = nxt
        cycles.append(path)
    return sorted(cycles)


# --- schemas ------------------------------------------------------------------------------------


def object_properties(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        if "object" in types(node) and "properties" not in node:
            yield (
                "object-properties",
                path,
                'object schema without properties; ChatGPT warns ("object schema missing '
                'properties") and the model cannot send undeclared fields',
            )


def empty_enum(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        if node.get("enum") == []:
            yield (
                "empty-enum",
                path + ("enum",),
                "enum is empty; ChatGPT's importer rejects it (\"List should have at least 1 "
                'item"), list the values or drop enum',
            )


def empty_items(spec: Spec) -> Findings:
    reported = "ChatGPT's importer is reported to fail on"
    for path, node in spec.schemas:
        if node.get("items") == {}:
            yield (
                "empty-items",
                path + ("items",),
                f"items is {{}}; {reported} it, give the item type",
            )
        elif "array" in types(node) and "items" not in node and "prefixItems" not in node:
            yield (
                "empty-items",
                path,
                f"array schema without items; {reported} unconstrained schemas, give the item type",
            )


def anyof_null(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        for keyword in ("anyOf", "oneOf"):
            if any(types(mapping(s)) == {"null"} for s in sequence(node.get(keyword))):
                yield (
                    "anyof-null",
                    path + (keyword,),
                    f"{keyword} with a {{type: null}} member; reported to break ChatGPT's "
                    'importer, write type: [<type>, "null"] instead',
                )


def ref_siblings(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        if "$ref" in node and any(k in node for k in ("oneOf", "anyOf", "allOf")):
            yield (
                "ref-siblings",
                path,
                "$ref next to oneOf/anyOf/allOf; reported to break ChatGPT's importer, wrap "
                "them in allOf or pick one",
            )


def pattern_properties(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        if "patternProperties" in node:
            yield (
                "pattern-properties",
                path + ("patternProperties",),
                "patternProperties are reported to break ChatGPT's importer and the model "
                "cannot fill them; declare explicit properties",
            )


def file_fields(spec: Spec) -> Findings:
    for path, node in spec.schemas:
        properties = mapping(node.get("properties"))
        if "openaiFileIdRefs" in properties:
            refs = mapping(spec.resolve(properties["openaiFileIdRefs"]))
            items = mapping(spec.resolve(refs.get("items")))
            if types(refs) != {"array"} or types(items) != {"string"}:
                yield (
                    "file-id-refs",
                    path + ("properties", "openaiFileIdRefs"),
                    "openaiFileIdRefs must be declared as an array of strings",
                )
        if "openaiFileResponse" in properties:
            if types(mapping(spec.resolve(properties["openaiFileResponse"]))) != {"array"}:
                yield (
                    "file-response",
                    path + ("properties", "openaiFileResponse"),
                    "openaiFileResponse must be an array (of files or URLs)",
                )


def free_form_input(spec: Spec) -> Findings:
    for path, node in spec.input_schemas:
        extra = node.get("additionalProperties")
        if extra is True or (isinstance(extra, dict) and extra):
            yield (
                "free-form-input",
                path + ("additionalProperties",),
                "request field accepts undeclared properties; the model then sends fields "
                f"ChatGPT rejects {UNDECLARED}, declare every property",
            )


# --- validity -----------------------------------------------------------------------------------


def _schema_errors(spec: Spec) -> list[Finding]:
    """JSON Schema 2020-12 validity of every schema: openapi-spec-validator checks OpenAPI 3.1
    schemas only shallowly and stops at the first malformed one."""
    version = spec.doc.get("openapi")
    if isinstance(version, str) and version.startswith("3.0"):
        return []  # the 3.0 validator checks schemas fully
    found = []
    for root, schema in spec.schema_roots:
        for error in _META_VALIDATOR.iter_errors(schema):
            if error.context:
                error = best_match(error.context) or error
            path = root + tuple(p for p in error.absolute_path if isinstance(p, str | int))
            found.append(("schema-valid", path, f"invalid JSON Schema: {clip(str(error.message))}"))
    return found


def schema_valid(spec: Spec) -> Findings:
    yield from _schema_errors(spec)


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


def openapi_valid(spec: Spec) -> Findings:
    """openapi-spec-validator's findings, for the OpenAPI version the document declares."""
    version = spec.doc.get("openapi")
    version = version if isinstance(version, str) else ""
    validator = _VALIDATORS.get(version[:3], _VALIDATORS["3.1"])
    count = 0
    try:
        for error in validator(spec.doc).iter_errors():
            # operation-id-unique and duplicate-parameter report these, with a precise path.
            if isinstance(
                error, osv_errors.DuplicateOperationIDError | osv_errors.ParameterDuplicateError
            ):
                continue
            count += 1
            if count > MAX_VALIDATOR_PROBLEMS:
                continue
            if error.context:
                error = best_match(error.context) or error
            path = tuple(p for p in error.absolute_path if isinstance(p, str | int))
            yield "openapi-valid", path, clip(str(error.message))
    except Exception as exc:  # it raises on unresolvable $refs, and on some invalid documents
        # Its deeper checks assume a structurally valid document; after structural errors
        # (its own or schema-valid's), a stop is expected and those errors say what to fix.
        if count == 0 and not _schema_errors(spec):
            reason = (
                "the document (or a $ref loop) is nested too deeply"
                if isinstance(exc, RecursionError)
                else _validator_reason(exc)
            )
            yield "openapi-valid", (), f"openapi-spec-validator stopped: {clip(reason)}"
    if count > MAX_VALIDATOR_PROBLEMS:
        more = count - MAX_VALIDATOR_PROBLEMS
        yield "openapi-valid", (), f"{more} more validation errors not shown"


def _validator_reason(exc: Exception) -> str:
    name = type(exc).__name__
    if name in ("PointerToNowhere", "Unresolvable", "NoSuchResource", "Unretrievable"):
        ref = str(getattr(exc, "ref", None) or getattr(exc, "uri", None) or exc).split(" ")[0]
        return f"cannot resolve $ref {show('#' + ref if ref.startswith('/') else ref)}"
    return f"{name}: {exc}"
