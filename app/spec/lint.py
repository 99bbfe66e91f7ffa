"""Check an OpenAPI document against what ChatGPT's GPT action importer accepts.

Each problem names the source of its rule: OpenAI's GPT action docs, ChatGPT's own editor, the
OpenAPI specification, or builders' reports of what the importer did to their specs. Rules backed
by the first three are errors; rules backed only by builder reports (or by inference) are
warnings, because the importer changes without notice and a report may be stale.

Everything here must survive arbitrary input (teams lint their own specs, some of them broken), so
every access to the document checks the type it finds instead of trusting the shape.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urljoin, urlsplit

import requests
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from openapi_spec_validator import (
    OpenAPIV30SpecValidator,
    OpenAPIV31SpecValidator,
    OpenAPIV32SpecValidator,
)
from openapi_spec_validator.validation.exceptions import (
    DuplicateOperationIDError,
    ParameterDuplicateError,
)

Severity = Literal["error", "warning"]

# Where a rule comes from, as printed at the end of each problem line.
DOC = "OpenAI docs"
UI = "ChatGPT UI"
COMM = "builder reports"
ONE = "one builder report"
INF = "inferred"
OAS = "OpenAPI spec"
INPUT = "input"

_SEVERITY: dict[str, Severity] = {
    DOC: "error",
    UI: "error",
    OAS: "error",
    INPUT: "error",
    COMM: "warning",
    ONE: "warning",
    INF: "warning",
}

OPERATION_METHODS = ("get", "put", "post", "delete", "patch")
SKIPPED_METHODS = ("head", "options", "trace")
OPERATION_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_OPERATIONS = 30
MAX_SUMMARY = 300
MAX_PARAMETER_DESCRIPTION = 700
# OAuth providers ChatGPT lets live on another domain than the API (OpenAI's production notes).
OAUTH_EXEMPT_DOMAINS = (
    "google.com",
    "googleapis.com",
    "microsoft.com",
    "microsoftonline.com",
    "live.com",
    "adobe.com",
    "adobelogin.com",
)
MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024
# Enough for any real spec; a YAML alias bomb expands far beyond it.
MAX_NODES = 1_000_000
MAX_VALIDATOR_PROBLEMS = 50
URL_TIMEOUT_SECONDS = 10.0
_META_VALIDATOR = Draft202012Validator(Draft202012Validator.META_SCHEMA)


@dataclass(frozen=True)
class Problem:
    severity: Severity
    path: str
    rule: str
    message: str
    source: str

    def line(self, strict: bool = False) -> str:
        """One grep-friendly line; `strict` reports warnings as errors."""
        severity = "error" if strict else self.severity
        text = f"{severity}: {self.path}: {self.message} [{self.rule}, {self.source}]"
        return _one_line(text)


def is_error(problem: Problem, strict: bool = False) -> bool:
    return strict or problem.severity == "error"


def summary(problems: list[Problem], strict: bool = False) -> str:
    errors = sum(1 for p in problems if is_error(p, strict))
    warnings = len(problems) - errors
    return f"{errors} {'error' if errors == 1 else 'errors'}, " + (
        f"{warnings} {'warning' if warnings == 1 else 'warnings'}"
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _one_line(text: str) -> str:
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
Key = str | int


def json_path(parts: tuple[Key, ...] | list[Key]) -> str:
    """`$.paths['/todos'].get.summary` style path to a node."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}"
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            out += f"['{escaped}']"
    return out


def _show(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"'{text}'" if isinstance(value, str) else text


# --- loading -----------------------------------------------------------------------------------


def load(source: str, timeout: float = URL_TIMEOUT_SECONDS) -> tuple[Any, list[Problem]]:
    """Read FILE (JSON or YAML, by content), `-` for standard input, or an http(s) URL.

    Returns the parsed document, or None with the problem that prevented reading it.
    """
    if source.lower().startswith(("http://", "https://")):
        text, problem = _fetch(source, timeout)
    else:
        text, problem = _read_file(source)
    if problem is not None:
        return None, [problem]
    return parse(text or "", source)


def _input_problem(rule: str, message: str) -> Problem:
    return Problem("error", "$", rule, message, INPUT)


def _decode(data: bytes, source: str) -> tuple[str | None, Problem | None]:
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return None, _input_problem(
            "input-unreadable", f"{source} is not UTF-8 text (byte {exc.start}); is it a spec?"
        )


def _read_file(source: str) -> tuple[str | None, Problem | None]:
    try:
        if source == "-":
            data = sys.stdin.buffer.read(MAX_DOWNLOAD_BYTES + 1)
        else:
            with Path(source).open("rb") as fh:
                data = fh.read(MAX_DOWNLOAD_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, _input_problem("input-unreadable", f"cannot read {source}: {reason}")
    except ValueError as exc:  # e.g. a NUL byte in the file name
        return None, _input_problem("input-unreadable", f"cannot read {source}: {exc}")
    if len(data) > MAX_DOWNLOAD_BYTES:
        return None, _input_problem(
            "input-unreadable", f"{source} is larger than {MAX_DOWNLOAD_BYTES} bytes"
        )
    return _decode(data, source)


def _fetch(url: str, timeout: float) -> tuple[str | None, Problem | None]:
    headers = {"Accept": "application/json, application/yaml;q=0.9, */*;q=0.5"}
    try:
        with requests.get(url, headers=headers, timeout=timeout, stream=True) as response:
            if response.status_code >= 400:
                return None, _input_problem(
                    "input-unreadable",
                    f"{url} answered HTTP {response.status_code} {response.reason or ''}".rstrip(),
                )
            data = b""
            for chunk in response.iter_content(64 * 1024):
                data += chunk
                if len(data) > MAX_DOWNLOAD_BYTES:
                    return None, _input_problem(
                        "input-unreadable", f"{url} is larger than {MAX_DOWNLOAD_BYTES} bytes"
                    )
    except requests.RequestException as exc:
        return None, _input_problem("input-unreadable", f"cannot fetch {url}: {_reason(exc)}")
    except Exception as exc:  # odd URLs make urllib3 raise odd things
        return None, _input_problem("input-unreadable", f"cannot fetch {url}: {exc}")
    return _decode(data, url)


def _reason(exc: BaseException) -> str:
    """The innermost cause: requests wraps urllib3 wraps socket errors in long reprs."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    return f"{type(exc).__name__}: {exc}"


def parse(text: str, source: str = "<input>") -> tuple[Any, list[Problem]]:
    """Parse JSON or YAML text, chosen by content (a leading { or [ means JSON)."""
    stripped = text.lstrip()
    if not stripped:
        return None, [_input_problem("input-unparseable", f"{source} is empty")]
    json_error: str | None = None
    if stripped[0] in "{[":
        try:
            return json.loads(stripped), []
        except json.JSONDecodeError as exc:
            json_error = f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        except RecursionError:
            return None, [_input_problem("input-too-deep", f"{source} is nested too deeply")]
        except ValueError as exc:
            json_error = f"invalid JSON: {exc}"
    try:
        # Not CSafeLoader: libyaml overflows the C stack on deeply nested input and crashes
        # the process; the Python loader raises RecursionError instead.
        document = yaml.load(text, Loader=yaml.SafeLoader)
    except RecursionError:
        return None, [_input_problem("input-too-deep", f"{source} is nested too deeply")]
    except yaml.MarkedYAMLError as exc:
        where = (
            f" at line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}"
            if exc.problem_mark is not None
            else ""
        )
        reason = json_error or f"invalid YAML: {exc.problem or exc.context}{where}"
        return None, [_input_problem("input-unparseable", f"{source}: {reason}")]
    except Exception as exc:  # PyYAML raises ValueError etc. for bad scalars
        first_line = (str(exc).splitlines() or [""])[0]
        reason = json_error or f"invalid YAML: {type(exc).__name__}: {first_line}"
        return None, [_input_problem("input-unparseable", f"{source}: {reason}")]
    if document is None:
        return None, [_input_problem("input-unparseable", f"{source} holds no document")]
    return document, []


# --- the rules ---------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


def _normalize(node: Any, counter: list[int], stack: set[int]) -> Any:
    """A plain JSON-like copy: string keys (YAML reads `200:` as an int), no shared or
    recursive nodes (YAML aliases), bounded size (alias bombs)."""
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise _TooLarge
    if isinstance(node, dict | list):
        if id(node) in stack:
            return None  # a recursive YAML alias: cut, so that the rules terminate
        stack.add(id(node))
        try:
            if isinstance(node, list):
                return [_normalize(v, counter, stack) for v in node]
            return {_key(k): _normalize(v, counter, stack) for k, v in node.items()}
        finally:
            stack.discard(id(node))
    return node


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if hasattr(key, "isoformat"):
        return key.isoformat()
    return str(key)


def lint(document: Any) -> list[Problem]:
    """Every problem ChatGPT's importer (or the OpenAPI spec) would have with `document`."""
    if not isinstance(document, dict):
        kind = type(document).__name__
        return [
            Problem(
                "error",
                "$",
                "openapi-document",
                f"the document is a {kind}, not an "
                "object; an OpenAPI document is a mapping with openapi, info, paths",
                OAS,
            )
        ]
    try:
        doc = _normalize(document, [0], set())
    except _TooLarge:
        return [
            _input_problem(
                "input-too-large",
                f"the document has more than {MAX_NODES} nodes (YAML aliases expand); not linted",
            )
        ]
    except RecursionError:
        return [_input_problem("input-too-deep", "the document is nested too deeply to lint")]
    linter = _Linter(doc)
    for rule in linter.rules():
        try:
            rule()
        except RecursionError:
            linter.report(
                "error",
                (),
                "input-too-deep",
                f"the document is nested too deeply to check ({rule.__name__.lstrip('_')})",
                INPUT,
            )
        except Exception as exc:  # one broken rule must not hide the others
            linter.report(
                "error",
                (),
                "linter-internal",
                f"rule {rule.__name__.lstrip('_')} "
                f"failed on this document: {type(exc).__name__}: {exc}",
                INPUT,
            )
    schemas_invalid = any(p.rule == "schema-valid" for p in linter.problems)
    linter.problems.extend(validate(doc, schemas_invalid))
    # Path-level parameters are checked once per operation that shares them.
    return list(dict.fromkeys(linter.problems))


def _d(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def _l(node: Any) -> list[Any]:
    return node if isinstance(node, list) else []


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    return {k for k in _l(kind) if isinstance(k, str)}


Path_ = tuple[Key, ...]


@dataclass
class _Operation:
    path: Path_
    url_path: str
    method: str
    node: dict[str, Any]
    shared_parameters: list[Any]


class _Linter:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        self.components = _d(doc.get("components"))
        self.operations = list(self._operations())

    def rules(self) -> list[Callable[[], None]]:
        return [
            self._openapi_version,
            self._servers,
            self._methods,
            self._operation_ids,
            self._lengths,
            self._consequential,
            self._parameters,
            self._bodies_and_responses,
            self._components_schemas,
            self._security,
            self._refs,
            self._circular_refs,
            self._schemas,
            self._schema_validity,
            self._inputs,
        ]

    def report(
        self,
        severity: Severity | None,
        path: Path_,
        rule: str,
        message: str,
        source: str,
    ) -> None:
        self.problems.append(
            Problem(severity or _SEVERITY[source], json_path(path), rule, message, source)
        )

    def _operations(self) -> Iterator[_Operation]:
        for url_path, item in _d(self.doc.get("paths")).items():
            if not isinstance(item, dict):
                continue
            shared = _l(item.get("parameters"))
            for method in OPERATION_METHODS:
                if isinstance(item.get(method), dict):
                    yield _Operation(
                        ("paths", url_path, method), url_path, method, item[method], shared
                    )

    def _resolve(self, node: Any, seen: frozenset[str] = frozenset()) -> Any:
        """Follow local `$ref`s (for reading further); None when one leads nowhere."""
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                return None
            seen = seen | {ref}
            node = _pointer(self.doc, ref)
        return node

    # -- openapi, servers ----------------------------------------------------------------------

    def _openapi_version(self) -> None:
        version = self.doc.get("openapi")
        fix = 'use openapi: "3.1.0"'
        if version == "3.1.0":
            return
        if version is None:
            swagger = self.doc.get("swagger")
            what = f"a Swagger {_show(swagger)} document" if swagger else "openapi is missing"
            message = f"{what}; ChatGPT imports OpenAPI 3.1.0 only, {fix}"
        elif not isinstance(version, str):
            message = f"openapi is {_show(version)}, not a string; {fix} (quoted in YAML)"
        elif version.startswith("3.1."):
            self.report(
                None,
                ("openapi",),
                "openapi-version",
                f"openapi is {_show(version)}; one importer version accepted only '3.1.0', {fix}",
                ONE,
            )
            return
        elif version.startswith("3.0."):
            message = (
                f'openapi is {_show(version)}; ChatGPT rejects 3.0.x ("Input should be '
                f"'3.1.1' or '3.1.0'\"), {fix}"
            )
        else:
            message = f"openapi is {_show(version)}; ChatGPT imports OpenAPI 3.1.0, {fix}"
        self.report(None, ("openapi",), "openapi-version", message, COMM)

    def _servers(self) -> None:
        servers = self.doc.get("servers")
        if not isinstance(servers, list) or not servers:
            self.report(
                None,
                ("servers",) if "servers" in self.doc else (),
                "servers",
                'no servers; ChatGPT says "Could not find a valid URL in `servers`": '
                "add exactly one absolute https URL",
                COMM,
            )
            return
        if len(servers) > 1:
            self.report(
                None,
                ("servers",),
                "servers",
                f'{len(servers)} servers; ChatGPT uses only the first ("Multiple '
                'servers found"), keep exactly one',
                COMM,
            )
        server = servers[0]
        url = _d(server).get("url")
        path: Path_ = ("servers", 0, "url")
        if not isinstance(url, str) or not url.strip():
            self.report(
                None,
                ("servers", 0),
                "server-url",
                'the first server has no url; ChatGPT says "Could not find a valid URL '
                'in `servers`"',
                COMM,
            )
            return
        if "{" in url:
            self.report(
                None,
                path,
                "server-url",
                f"server url {_show(url)} has variables; give the literal https URL "
                "ChatGPT should call",
                INF,
            )
            return
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            self.report(
                None,
                path,
                "server-url",
                f"server url {_show(url)} is not a valid URL ({exc})",
                COMM,
            )
            return
        if not parts.scheme or not parts.netloc:
            self.report(
                None,
                path,
                "server-url",
                f'server url {_show(url)} is not absolute; ChatGPT says "Could not '
                'find a valid URL in `servers`", use https://host[/prefix]',
                COMM,
            )
            return
        if parts.scheme.lower() != "https":
            self.report(
                None,
                path,
                "server-https",
                f"server url {_show(url)} is not https; ChatGPT calls actions over TLS "
                "1.2+ on port 443 only",
                DOC,
            )
        if port is not None and port != 443:
            self.report(
                None,
                path,
                "server-https",
                f"server url {_show(url)} has port {port}; ChatGPT calls actions on port 443 only",
                DOC,
            )
        elif port == 443:
            self.report(
                None,
                path,
                "server-url",
                f"server url {_show(url)} names port 443; explicit ports make ChatGPT "
                'ignore the server ("not under the root origin"), drop it',
                COMM,
            )
        host = parts.netloc.rpartition("@")[2]
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if host != host.lower():
            self.report(
                None,
                path,
                "server-url",
                f"server host {_show(host)} has upper-case letters; ChatGPT ignores "
                'such servers ("not under the root origin"), write it in lower case',
                COMM,
            )
        if parts.query or parts.fragment or url.endswith(("?", "#")):
            self.report(
                None,
                path,
                "server-url",
                f"server url {_show(url)} has a query or fragment; ChatGPT appends "
                "paths to it, keep only scheme, host and an optional path prefix",
                INF,
            )
        if _private_host(parts.hostname or ""):
            self.report(
                None,
                path,
                "server-public",
                f"server host {_show(parts.hostname)} is not publicly reachable; "
                "ChatGPT calls from OpenAI's servers and needs a valid public "
                "certificate",
                DOC,
            )

    def _server_url(self) -> Any:
        servers = _l(self.doc.get("servers"))
        return _d(servers[0]).get("url") if servers else None

    def _server_host(self) -> str | None:
        url = self._server_url()
        try:
            return urlsplit(url).hostname if isinstance(url, str) else None
        except ValueError:
            return None

    # -- operations ----------------------------------------------------------------------------

    def _methods(self) -> None:
        for url_path, item in _d(self.doc.get("paths")).items():
            for method in SKIPPED_METHODS:
                if method in _d(item):
                    self.report(
                        None,
                        ("paths", url_path, method),
                        "unsupported-method",
                        f'ChatGPT skips {method.upper()} operations ("Path {url_path} '
                        f'has unrecognized method {method}"); use GET, POST, PUT, '
                        "PATCH or DELETE",
                        ONE,
                    )
        if len(self.operations) > MAX_OPERATIONS:
            self.report(
                None,
                ("paths",),
                "operation-count",
                f"{len(self.operations)} operations; ChatGPT refuses more than "
                f'{MAX_OPERATIONS} ("OpenAPI spec can have a maximum of 30 '
                'operations")',
                COMM,
            )

    def _operation_ids(self) -> None:
        first: dict[str, _Operation] = {}
        for op in self.operations:
            op_id = op.node.get("operationId")
            if op_id is None or op_id == "":
                self.report(
                    None,
                    op.path,
                    "operation-id-missing",
                    f'no operationId; ChatGPT drops the operation ("In path '
                    f"{op.url_path}, method {op.method} is missing operationId; "
                    'skipping")',
                    COMM,
                )
                continue
            if not isinstance(op_id, str) or not OPERATION_ID.match(op_id):
                self.report(
                    None,
                    op.path + ("operationId",),
                    "operation-id-format",
                    f"operationId {_show(op_id)} is not a valid function name; ChatGPT "
                    "uses it as one, so match ^[a-zA-Z0-9_-]{1,64}$",
                    INF,
                )
            if not isinstance(op_id, str):
                continue
            if op_id in first:
                other = first[op_id]
                self.report(
                    None,
                    op.path + ("operationId",),
                    "operation-id-unique",
                    f"operationId {_show(op_id)} is also used by "
                    f"{other.method.upper()} {other.url_path}; operationIds must be "
                    "unique",
                    OAS,
                )
            else:
                first[op_id] = op

    def _lengths(self) -> None:
        items = [
            (("paths", url_path), item) for url_path, item in _d(self.doc.get("paths")).items()
        ]
        for base, node in items + [(op.path, op.node) for op in self.operations]:
            for key in ("summary", "description"):
                text = _d(node).get(key)
                if isinstance(text, str) and len(text) > MAX_SUMMARY:
                    self.report(
                        None,
                        base + (key,),
                        f"{key}-length",
                        f"{key} is {len(text)} characters; ChatGPT allows at most {MAX_SUMMARY}",
                        DOC,
                    )
        for path, parameter in self._all_parameters():
            text = _d(parameter).get("description")
            if isinstance(text, str) and len(text) > MAX_PARAMETER_DESCRIPTION:
                self.report(
                    None,
                    path + ("description",),
                    "parameter-description-length",
                    f"parameter description is {len(text)} characters; ChatGPT allows "
                    f"at most {MAX_PARAMETER_DESCRIPTION}",
                    DOC,
                )

    def _all_parameters(self) -> Iterator[tuple[Path_, Any]]:
        for url_path, item in _d(self.doc.get("paths")).items():
            for i, parameter in enumerate(_l(_d(item).get("parameters"))):
                yield ("paths", url_path, "parameters", i), parameter
        for op in self.operations:
            for i, parameter in enumerate(_l(op.node.get("parameters"))):
                yield op.path + ("parameters", i), parameter
        for name, parameter in _d(self.components.get("parameters")).items():
            yield ("components", "parameters", name), parameter

    def _consequential(self) -> None:
        key = "x-openai-isConsequential"
        for op in self.operations:
            if key not in op.node:
                default = "false" if op.method == "get" else "true"
                self.report(
                    "warning",
                    op.path,
                    "consequential-missing",
                    f"{key} is not set, so ChatGPT applies its default for "
                    f"{op.method.upper()} ({default}); set it explicitly",
                    DOC,
                )
                continue
            value = op.node[key]
            if not isinstance(value, bool):
                self.report(
                    None,
                    op.path + (key,),
                    "consequential-type",
                    f"{key} is {_show(value)}; it must be the boolean true or false",
                    DOC,
                )
            elif value is False and op.method != "get":
                self.report(
                    "warning",
                    op.path + (key,),
                    "consequential-false",
                    f'{key} is false on a {op.method.upper()}, so users can "Always '
                    'allow" this change without confirming it; make sure that is '
                    "safe",
                    DOC,
                )

    def _parameters(self) -> None:
        for op in self.operations:
            merged: dict[tuple[str, str], Path_] = {}
            lists = [
                (op.path[:2] + ("parameters",), op.shared_parameters),
                (op.path + ("parameters",), _l(op.node.get("parameters"))),
            ]
            for base, parameters in lists:
                listed: set[tuple[str, str]] = set()
                for i, raw in enumerate(parameters):
                    path = base + (i,)
                    if not isinstance(raw, dict):
                        continue
                    if "$ref" in raw:
                        self.report(
                            None,
                            path,
                            "parameter-ref",
                            f"parameter is a $ref ({_show(raw['$ref'])}); ChatGPT does "
                            'not resolve these ("has missing or non-string name; '
                            'skipping"), write the parameter inline',
                            ONE,
                        )
                    parameter = _d(self._resolve(raw))
                    name, where = parameter.get("name"), parameter.get("in")
                    if not isinstance(name, str) or not isinstance(where, str):
                        continue
                    if (name, where) in listed:
                        self.report(
                            None,
                            path,
                            "duplicate-parameter",
                            f"parameter {_show(name)} in {where} is listed twice; "
                            "parameters must be unique by name and location",
                            OAS,
                        )
                        continue
                    listed.add((name, where))
                    # An operation's parameter replaces a path-level one of the same name and
                    # location.
                    merged[(name, where)] = path
            by_name: dict[str, str] = {}
            for (name, where), path in merged.items():
                if where.lower() == "header":
                    self.report(
                        None,
                        path,
                        "header-parameter",
                        f'header parameter {_show(name)}: "Custom headers are not '
                        'supported"; ChatGPT ignores it (credentials come from the '
                        "Authentication dialog)",
                        DOC,
                    )
                elif where.lower() == "cookie":
                    self.report(
                        None,
                        path,
                        "cookie-parameter",
                        f"cookie parameter {_show(name)}: ChatGPT sends no cookies",
                        INF,
                    )
                if re.search(r"\s", name):
                    self.report(
                        None,
                        path + ("name",),
                        "field-name",
                        f"parameter name {_show(name)} has white space; the model "
                        "fails to send such arguments (UnrecognizedKwargsError)",
                        COMM,
                    )
                if name in by_name:
                    self.report(
                        None,
                        path,
                        "duplicate-parameter",
                        f"parameter {_show(name)} is in both {by_name[name]} and "
                        f'{where}; ChatGPT skips the operation ("parameter {name} is '
                        'duplicated; skipping function due to errors")',
                        ONE,
                    )
                else:
                    by_name[name] = where

    def _bodies_and_responses(self) -> None:
        for op in self.operations:
            body = self._resolve(op.node.get("requestBody"))
            body_path = op.path + ("requestBody",)
            for media in _d(_d(body).get("content")):
                kind = media.split(";")[0].strip().lower()
                path = body_path + ("content", media)
                if self._binary_media(kind, path):
                    continue
                if kind != "application/json":
                    self.report(
                        None,
                        path,
                        "request-body-json",
                        f"request body is {_show(media)}; ChatGPT sends only "
                        "application/json bodies (multipart uploads arrive without "
                        "the file; use openaiFileIdRefs)",
                        COMM,
                    )
            for code, response in _d(op.node.get("responses")).items():
                content = _d(_d(self._resolve(response)).get("content"))
                for media in content:
                    path = op.path + ("responses", code, "content", media)
                    self._binary_media(media.split(";")[0].strip().lower(), path)

    def _binary_media(self, kind: str, path: Path_) -> bool:
        if kind.startswith(("image/", "video/")):
            self.report(
                None,
                path,
                "media-type",
                f'{kind} content: "Requests and responses can only contain text (no '
                'images or video)"; return files through openaiFileResponse',
                DOC,
            )
            return True
        return False

    # -- components and security ---------------------------------------------------------------

    def _components_schemas(self) -> None:
        message = (
            'ChatGPT requires components.schemas to be an object, even {} ("In '
            'components section, schemas subsection is not an object")'
        )
        if "components" not in self.doc:
            self.report(None, (), "components-schemas", f"no components; {message}", COMM)
        elif not isinstance(self.doc["components"], dict):
            return  # the OpenAPI validator reports the wrong type
        elif not isinstance(self.components.get("schemas"), dict):
            what = "missing" if "schemas" not in self.components else "not an object"
            self.report(
                None,
                ("components",) if what == "missing" else ("components", "schemas"),
                "components-schemas",
                f"components.schemas is {what}; {message}",
                COMM,
            )

    def _security(self) -> None:
        schemes = _d(self.components.get("securitySchemes"))
        if len(schemes) > 1:
            self.report(
                None,
                ("components", "securitySchemes"),
                "security-schemes-count",
                f"{len(schemes)} security schemes ({', '.join(map(repr, schemes))}); "
                'ChatGPT supports one ("Found multiple security schemes, only 1 is '
                'supported")',
                COMM,
            )
        for name, raw in schemes.items():
            self._security_scheme(("components", "securitySchemes", name), _d(self._resolve(raw)))
        requirements = [(("security",), self.doc.get("security"))] + [
            (op.path + ("security",), op.node.get("security")) for op in self.operations
        ]
        for path, requirement_list in requirements:
            for i, requirement in enumerate(_l(requirement_list)):
                for name in _d(requirement):
                    if name not in schemes:
                        self.report(
                            None,
                            path + (i, name),
                            "security-undefined",
                            f"security scheme {_show(name)} is not defined in "
                            "components.securitySchemes",
                            OAS,
                        )

    def _security_scheme(self, path: Path_, scheme: dict[str, Any]) -> None:
        kind = scheme.get("type")
        offered = (
            "ChatGPT offers None, API key (Basic, Bearer or a custom header) and OAuth "
            "(authorization code)"
        )
        if kind == "apiKey" and scheme.get("in") != "header":
            self.report(
                None,
                path + ("in",),
                "security-scheme-type",
                f"API key in {_show(scheme.get('in'))}; ChatGPT sends API keys only in "
                f"a header. {offered}",
                UI,
            )
        elif kind == "http" and str(scheme.get("scheme", "")).lower() not in ("basic", "bearer"):
            self.report(
                None,
                path + ("scheme",),
                "security-scheme-type",
                f"http scheme {_show(scheme.get('scheme'))} is not one ChatGPT can send. {offered}",
                UI,
            )
        elif kind in ("openIdConnect", "mutualTLS"):
            self.report(
                None,
                path + ("type",),
                "security-scheme-type",
                f"{kind} is not one ChatGPT can use. {offered}",
                UI,
            )
        elif kind == "oauth2":
            flows = _d(scheme.get("flows"))
            others = sorted(set(flows) - {"authorizationCode"})
            if "authorizationCode" not in flows or others:
                self.report(
                    None,
                    path + ("flows",),
                    "oauth-flow",
                    "ChatGPT's OAuth is the authorization code grant only; "
                    f"{'drop ' + ', '.join(others) if others else 'add it'}",
                    ONE,
                )
            self._oauth_domains(
                path + ("flows", "authorizationCode"), _d(flows.get("authorizationCode"))
            )

    def _oauth_domains(self, path: Path_, flow: dict[str, Any]) -> None:
        server_host = self._server_host()
        if not server_host:
            return
        server_url = self._server_url()
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
            shared = _common_labels(host, server_host)
            if shared >= 2:
                self.report(
                    None,
                    path + (key,),
                    "oauth-domain",
                    f"{key} host {_show(host)} differs from the server host "
                    f"{_show(server_host)}; sub-domains of one domain are commonly "
                    "assumed to work, but OpenAI asks for the same domain",
                    INF,
                )
            else:
                self.report(
                    None,
                    path + (key,),
                    "oauth-domain",
                    f"{key} host {_show(host)} is not on the server's domain "
                    f"{_show(server_host)}; OAuth must use the API's domain (only "
                    "Google, Microsoft and Adobe are exempt)",
                    DOC,
                )

    # -- references ----------------------------------------------------------------------------

    def _refs(self) -> None:
        for path, ref in _all_refs(self.doc, ()):
            if not ref.startswith("#"):
                self.report(
                    None,
                    path,
                    "external-ref",
                    f"$ref {_show(ref)} points outside the document; ChatGPT imports "
                    "one document, so put what it refers to under components",
                    INF,
                )
            elif _pointer(self.doc, ref) is None:
                self.report(
                    None,
                    path,
                    "unresolved-ref",
                    f"$ref {_show(ref)} points to nothing in this document",
                    OAS,
                )

    def _circular_refs(self) -> None:
        schemas = _d(self.components.get("schemas"))
        prefix = "#/components/schemas/"
        edges = {
            name: sorted(
                {
                    _unescape(r[len(prefix) :])
                    for _, r in _all_refs(schema, ())
                    if r.startswith(prefix)
                }
                & set(schemas)
            )
            for name, schema in schemas.items()
        }
        for cycle in _cycles(edges):
            self.report(
                None,
                ("components", "schemas", cycle[0]),
                "circular-ref",
                f"schemas refer to themselves ({' -> '.join(cycle + [cycle[0]])}); "
                'ChatGPT refuses this ("Components section contains a circular '
                'dependency"), flatten or cut the cycle',
                ONE,
            )

    # -- schemas -------------------------------------------------------------------------------

    def _schema_roots(self) -> Iterator[tuple[Path_, Any]]:
        """Every place the document puts a schema (not following $refs)."""
        for name, schema in _d(self.components.get("schemas")).items():
            yield ("components", "schemas", name), schema
        for path, parameter in self._all_parameters():
            yield from _parameter_schemas(path, parameter)
        for name, header in _d(self.components.get("headers")).items():
            yield from _parameter_schemas(("components", "headers", name), header)
        for name, body in _d(self.components.get("requestBodies")).items():
            yield from _content_schemas(("components", "requestBodies", name), body)
        for name, response in _d(self.components.get("responses")).items():
            yield from _response_schemas(("components", "responses", name), response)
        for op in self.operations:
            yield from _content_schemas(op.path + ("requestBody",), op.node.get("requestBody"))
            for code, response in _d(op.node.get("responses")).items():
                yield from _response_schemas(op.path + ("responses", code), response)

    def _schemas(self) -> None:
        for root, schema in self._schema_roots():
            for path, node in _subschemas(root, schema):
                self._schema(path, node)

    def _schema(self, path: Path_, node: dict[str, Any]) -> None:
        types = _types(node)
        if "object" in types and "properties" not in node:
            self.report(
                None,
                path,
                "object-properties",
                'object schema without properties; ChatGPT warns ("object schema '
                'missing properties") and the model cannot send undeclared fields',
                COMM,
            )
        if node.get("enum") == []:
            self.report(
                None,
                path + ("enum",),
                "empty-enum",
                "enum is empty; ChatGPT's importer rejects it (\"List should have at "
                'least 1 item"), list the values or drop enum',
                ONE,
            )
        if node.get("items") == {}:
            self.report(
                None,
                path + ("items",),
                "empty-items",
                "items is {}; ChatGPT's importer is reported to fail on it, give the item type",
                ONE,
            )
        elif "array" in types and "items" not in node and "prefixItems" not in node:
            self.report(
                None,
                path,
                "empty-items",
                "array schema without items; ChatGPT's importer is reported to fail on "
                "unconstrained schemas, give the item type",
                ONE,
            )
        for keyword in ("anyOf", "oneOf"):
            if any(_types(_d(s)) == {"null"} for s in _l(node.get(keyword))):
                self.report(
                    None,
                    path + (keyword,),
                    "anyof-null",
                    f"{keyword} with a {{type: null}} member; reported to break "
                    'ChatGPT\'s importer, write type: [<type>, "null"] instead',
                    ONE,
                )
        if "$ref" in node and any(k in node for k in ("oneOf", "anyOf", "allOf")):
            self.report(
                None,
                path,
                "ref-siblings",
                "$ref next to oneOf/anyOf/allOf; reported to break ChatGPT's importer, "
                "wrap them in allOf or pick one",
                ONE,
            )
        if "patternProperties" in node:
            self.report(
                None,
                path + ("patternProperties",),
                "pattern-properties",
                "patternProperties are reported to break ChatGPT's importer and the "
                "model cannot fill them; declare explicit properties",
                ONE,
            )
        properties = _d(node.get("properties"))
        if "openaiFileIdRefs" in properties:
            refs = _d(self._resolve(properties["openaiFileIdRefs"]))
            if _types(refs) != {"array"} or _types(_d(self._resolve(refs.get("items")))) != {
                "string"
            }:
                self.report(
                    None,
                    path + ("properties", "openaiFileIdRefs"),
                    "file-id-refs",
                    "openaiFileIdRefs must be declared as an array of strings",
                    DOC,
                )
        if "openaiFileResponse" in properties:
            files = _d(self._resolve(properties["openaiFileResponse"]))
            if _types(files) != {"array"}:
                self.report(
                    None,
                    path + ("properties", "openaiFileResponse"),
                    "file-response",
                    "openaiFileResponse must be an array (of files or URLs)",
                    DOC,
                )

    def _schema_validity(self) -> None:
        """JSON Schema 2020-12 validity of every schema: openapi-spec-validator checks OpenAPI
        3.1 schemas only shallowly and stops at the first malformed one."""
        version = self.doc.get("openapi")
        if isinstance(version, str) and version.startswith("3.0"):
            return  # the 3.0 validator checks schemas fully
        for root, schema in self._schema_roots():
            for error in _META_VALIDATOR.iter_errors(schema):
                if error.context:
                    error = best_match(error.context) or error
                self.report(
                    None,
                    root + tuple(p for p in error.absolute_path if isinstance(p, str | int)),
                    "schema-valid",
                    f"invalid JSON Schema: {_clip(str(error.message))}",
                    OAS,
                )

    def _inputs(self) -> None:
        """Rules for what the model has to fill in: request bodies and parameters."""
        roots: list[tuple[Path_, Any]] = []
        for op in self.operations:
            roots += _content_schemas(
                op.path + ("requestBody",), self._resolve(op.node.get("requestBody"))
            )
        seen_refs: set[str] = set()
        while roots:
            root, schema = roots.pop(0)
            for path, node in _subschemas(root, schema):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith("#") and ref not in seen_refs:
                    seen_refs.add(ref)
                    target = _pointer(self.doc, ref)
                    if isinstance(target, dict):
                        roots.append((_pointer_path(ref), target))
                extra = node.get("additionalProperties")
                if extra is True or (isinstance(extra, dict) and extra):
                    self.report(
                        None,
                        path + ("additionalProperties",),
                        "free-form-input",
                        "request field accepts undeclared properties; the model then "
                        "sends fields ChatGPT rejects (UnrecognizedKwargsError), "
                        "declare every property",
                        COMM,
                    )
                for name in _d(node.get("properties")):
                    if re.search(r"\s", name):
                        self.report(
                            None,
                            path + ("properties", name),
                            "field-name",
                            f"field name {_show(name)} has white space; the model "
                            "fails to send it (UnrecognizedKwargsError)",
                            COMM,
                        )


def _parameter_schemas(path: Path_, parameter: Any) -> Iterator[tuple[Path_, Any]]:
    parameter = _d(parameter)
    if "schema" in parameter:
        yield path + ("schema",), parameter["schema"]
    yield from _content_schemas(path, parameter)


def _content_schemas(path: Path_, holder: Any) -> Iterator[tuple[Path_, Any]]:
    for media, media_type in _d(_d(holder).get("content")).items():
        if "schema" in _d(media_type):
            yield path + ("content", media, "schema"), media_type["schema"]


def _response_schemas(path: Path_, response: Any) -> Iterator[tuple[Path_, Any]]:
    yield from _content_schemas(path, response)
    for name, header in _d(_d(response).get("headers")).items():
        yield from _parameter_schemas(path + ("headers", name), header)


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
)


def _subschemas(path: Path_, schema: Any) -> Iterator[tuple[Path_, dict[str, Any]]]:
    """The schema and every schema nested in it, depth first, without following $refs."""
    todo: list[tuple[Path_, Any]] = [(path, schema)]
    while todo:
        path, node = todo.pop()
        if not isinstance(node, dict):
            continue
        yield path, node
        nested: list[tuple[Path_, Any]] = []
        for key in _SCHEMA_MAPS:
            nested += [(path + (key, name), s) for name, s in _d(node.get(key)).items()]
        for key in _SCHEMA_LISTS:
            nested += [(path + (key, i), s) for i, s in enumerate(_l(node.get(key)))]
        for key in _SCHEMA_ONE:
            value = node.get(key)
            if isinstance(value, list):  # OpenAPI 3.0 / draft 4 tuple items
                nested += [(path + (key, i), s) for i, s in enumerate(value)]
            else:
                nested.append((path + (key,), value))
        todo.extend(reversed(nested))


def _all_refs(node: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
    todo: list[tuple[Path_, Any]] = [(path, node)]
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


def _unescape(token: str) -> str:
    return unquote(token).replace("~1", "/").replace("~0", "~")


def _pointer(doc: Any, ref: str) -> Any:
    """The node a local `#/...` reference points to, or None."""
    if not ref.startswith("#"):
        return None
    pointer = ref[1:]
    if pointer == "":
        return doc
    if not pointer.startswith("/"):
        return None
    node = doc
    for token in pointer[1:].split("/"):
        token = _unescape(token)
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def _pointer_path(ref: str) -> Path_:
    return tuple(_unescape(t) for t in ref[2:].split("/")) if ref.startswith("#/") else ()


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


def _private_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def _common_labels(a: str, b: str) -> int:
    shared = 0
    for x, y in zip(reversed(a.split(".")), reversed(b.split(".")), strict=False):
        if x != y:
            break
        shared += 1
    return shared


# --- openapi-spec-validator --------------------------------------------------------------------


class _Offline:
    """Mixin: never fetch or read external `$ref`s (a spec must not make the linter reach out
    to arbitrary URLs or local files); they are reported as unresolvable instead."""

    resolver_handlers: dict[str, Any] = {}


class _V30(_Offline, OpenAPIV30SpecValidator):
    pass


class _V31(_Offline, OpenAPIV31SpecValidator):
    pass


class _V32(_Offline, OpenAPIV32SpecValidator):
    pass


def validate(doc: dict[str, Any], known_invalid: bool = False) -> list[Problem]:
    """openapi-spec-validator's findings, for the OpenAPI version the document declares.

    `known_invalid`: other problems already explain why the validator may stop early.
    """
    version = doc.get("openapi")
    version = version if isinstance(version, str) else ""
    validator_class = (
        _V30 if version.startswith("3.0") else _V32 if version.startswith("3.2") else _V31
    )
    problems: list[Problem] = []
    count = 0
    try:
        for error in validator_class(doc).iter_errors():
            # Reported with a precise path by the operation-id-unique and duplicate-parameter
            # rules.
            if isinstance(error, DuplicateOperationIDError | ParameterDuplicateError):
                continue
            count += 1
            if count > MAX_VALIDATOR_PROBLEMS:
                continue
            if error.context:
                error = best_match(error.context) or error
            path = [p for p in error.absolute_path if isinstance(p, str | int)]
            message = _clip(str(error.message))
            problems.append(Problem("error", json_path(path), "openapi-valid", message, OAS))
    except Exception as exc:  # it raises on unresolvable $refs, and on some invalid documents
        # Its deeper checks assume a structurally valid document; after structural errors, a
        # stop is expected and the errors above say what to fix.
        if count == 0 and not known_invalid:
            reason = (
                "the document (or a $ref loop) is nested too deeply"
                if isinstance(exc, RecursionError)
                else _validator_reason(exc)
            )
            problems.append(
                Problem(
                    "error",
                    "$",
                    "openapi-valid",
                    f"openapi-spec-validator stopped: {_clip(reason)}",
                    OAS,
                )
            )
    if count > MAX_VALIDATOR_PROBLEMS:
        problems.append(
            Problem(
                "error",
                "$",
                "openapi-valid",
                f"{count - MAX_VALIDATOR_PROBLEMS} more validation errors not shown",
                OAS,
            )
        )
    return problems


def _validator_reason(exc: Exception) -> str:
    name = type(exc).__name__
    if name in ("PointerToNowhere", "Unresolvable", "NoSuchResource", "Unretrievable"):
        ref = str(getattr(exc, "ref", None) or getattr(exc, "uri", None) or exc).split(" ")[0]
        return f"cannot resolve $ref {_show('#' + ref if ref.startswith('/') else ref)}"
    return f"{name}: {exc}"


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
