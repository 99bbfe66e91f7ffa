"""`flask spec lint`: every GPT action rule, on good, bad and garbage input, from files and URLs."""

from __future__ import annotations

import copy
import functools
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from app.spec.lint import Problem, lint, load, parse

SPECS = Path(__file__).parent / "specs"
GOOD = SPECS / "good.yaml"


def good() -> dict[str, Any]:
    """The good spec with string keys: YAML reads its unquoted `200:` as an int, which the
    linter accepts (the file tests cover that) but which the mutations below would trip on."""
    return json.loads(json.dumps(yaml.safe_load(GOOD.read_text(encoding="utf-8"))))


def found(problems: list[Problem]) -> set[tuple[str, str, str]]:
    return {(p.rule, p.severity, p.path) for p in problems}


# --- one known-bad spec per rule ---------------------------------------------------------------

GET = "$.paths['/notes'].get"
POST = "$.paths['/notes'].post"
DELETE = "$.paths['/notes/{note_id}'].delete"
SCHEMAS = "$.components.schemas"
SCHEMES = "$.components.securitySchemes"


def setting(path: str, value: Any) -> Callable[[dict], None]:
    """A mutation: set a value, by a / separated path ('~' stands for '/' in a key)."""
    return lambda doc: _set_keys(doc, path.split("/"), value)


def _set_keys(doc: dict, keys: list[str], value: Any) -> None:
    node: Any = doc
    for key in keys[:-1]:
        key = key.replace("~", "/")
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1].replace("~", "/")
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def deleting(path: str) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        keys = [k.replace("~", "/") for k in path.split("/")]
        node: Any = doc
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return mutate


def adding_parameter(parameter: dict, where: str = "/notes", method: str = "get"):
    return lambda doc: doc["paths"][where][method]["parameters"].append(parameter)


def many_operations(doc: dict) -> None:
    for i in range(30):
        doc["paths"][f"/extra{i}"] = {
            "get": {
                "operationId": f"extra{i}",
                "x-openai-isConsequential": False,
                "responses": {"204": {"description": "Nothing"}},
            }
        }


def second_scheme(doc: dict) -> None:
    doc["components"]["securitySchemes"]["key"] = {"type": "http", "scheme": "bearer"}


def circular(doc: dict) -> None:
    author = doc["components"]["schemas"]["Note"]["properties"]["author"]
    author["properties"]["latest"] = {"$ref": "#/components/schemas/NoteList"}


def inline_body(schema: dict) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        doc["paths"]["/notes"]["post"]["requestBody"]["content"]["application/json"] = {
            "schema": schema
        }

    return mutate


def parameter_ref(doc: dict) -> None:
    doc["components"]["parameters"] = {
        "Limit": {"name": "limit", "in": "query", "schema": {"type": "integer"}}
    }
    doc["paths"]["/notes"]["get"]["parameters"].append({"$ref": "#/components/parameters/Limit"})


def oauth_url(url: str) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        doc["components"]["securitySchemes"]["oauth"]["flows"]["authorizationCode"][
            "authorizationUrl"
        ] = url

    return mutate


def note_property(name: str, schema: Any) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        doc["components"]["schemas"]["Note"]["properties"][name] = schema

    return mutate


def image_response(doc: dict) -> None:
    doc["paths"]["/notes"]["get"]["responses"]["200"]["content"] = {
        "image/png": {"schema": {"type": "string", "contentEncoding": "base64"}}
    }


AUTH_URL = f"{SCHEMES}.oauth.flows.authorizationCode.authorizationUrl"

BAD: list[tuple[str, str, str, Callable[[dict], None]]] = [
    ("openapi-version", "warning", "$.openapi", setting("openapi", "3.0.3")),
    ("openapi-version", "warning", "$.openapi", setting("openapi", "3.1.1")),
    ("openapi-version", "warning", "$.openapi", setting("openapi", 3.1)),
    ("servers", "warning", "$", deleting("servers")),
    ("servers", "warning", "$.servers", setting("servers", [])),
    (
        "servers",
        "warning",
        "$.servers",
        lambda d: d["servers"].append({"url": "https://other.example.com"}),
    ),
    ("server-url", "warning", "$.servers[0].url", setting("servers/0/url", "/api")),
    ("server-url", "warning", "$.servers[0]", setting("servers/0", {"description": "x"})),
    (
        "server-url",
        "warning",
        "$.servers[0].url",
        setting("servers/0/url", "https://N.example.com"),
    ),
    ("server-url", "warning", "$.servers[0].url", setting("servers/0/url", "https://n.com:443")),
    ("server-url", "warning", "$.servers[0].url", setting("servers/0/url", "https://n.com/?v=1")),
    ("server-url", "warning", "$.servers[0].url", setting("servers/0/url", "https://{host}/api")),
    ("server-https", "error", "$.servers[0].url", setting("servers/0/url", "http://n.example.com")),
    ("server-https", "error", "$.servers[0].url", setting("servers/0/url", "https://n.com:8443")),
    ("server-public", "error", "$.servers[0].url", setting("servers/0/url", "https://localhost")),
    ("server-public", "error", "$.servers[0].url", setting("servers/0/url", "https://10.0.0.7")),
    ("operation-count", "warning", "$.paths", many_operations),
    ("operation-id-missing", "warning", GET, deleting("paths/~notes/get/operationId")),
    (
        "operation-id-format",
        "warning",
        f"{GET}.operationId",
        setting("paths/~notes/get/operationId", "list notes"),
    ),
    (
        "operation-id-format",
        "warning",
        f"{GET}.operationId",
        setting("paths/~notes/get/operationId", "x" * 65),
    ),
    (
        "operation-id-unique",
        "error",
        f"{POST}.operationId",
        setting("paths/~notes/post/operationId", "listNotes"),
    ),
    (
        "unsupported-method",
        "warning",
        "$.paths['/notes'].head",
        setting("paths/~notes/head", {"responses": {"200": {"description": "OK"}}}),
    ),
    ("summary-length", "error", f"{GET}.summary", setting("paths/~notes/get/summary", "s" * 301)),
    (
        "description-length",
        "error",
        f"{POST}.description",
        setting("paths/~notes/post/description", "d" * 301),
    ),
    (
        "summary-length",
        "error",
        "$.paths['/notes'].summary",
        setting("paths/~notes/summary", "s" * 301),
    ),
    (
        "parameter-description-length",
        "error",
        f"{GET}.parameters[0].description",
        setting("paths/~notes/get/parameters/0/description", "p" * 701),
    ),
    (
        "consequential-missing",
        "warning",
        GET,
        deleting("paths/~notes/get/x-openai-isConsequential"),
    ),
    (
        "consequential-missing",
        "warning",
        DELETE,
        deleting("paths/~notes~{note_id}/delete/x-openai-isConsequential"),
    ),
    (
        "consequential-type",
        "error",
        f"{POST}['x-openai-isConsequential']",
        setting("paths/~notes/post/x-openai-isConsequential", "true"),
    ),
    (
        "consequential-false",
        "warning",
        f"{DELETE}['x-openai-isConsequential']",
        setting("paths/~notes~{note_id}/delete/x-openai-isConsequential", False),
    ),
    (
        "header-parameter",
        "error",
        f"{GET}.parameters[2]",
        adding_parameter({"name": "X-Trace", "in": "header", "schema": {"type": "string"}}),
    ),
    (
        "cookie-parameter",
        "warning",
        f"{GET}.parameters[2]",
        adding_parameter({"name": "sid", "in": "cookie", "schema": {"type": "string"}}),
    ),
    ("parameter-ref", "warning", f"{GET}.parameters[2]", parameter_ref),
    (
        "duplicate-parameter",
        "warning",
        f"{GET}.parameters[2]",
        adding_parameter({"name": "q", "in": "path", "required": True, "schema": {}}),
    ),
    (
        "duplicate-parameter",
        "error",
        f"{GET}.parameters[2]",
        adding_parameter({"name": "q", "in": "query", "schema": {"type": "string"}}),
    ),
    (
        "field-name",
        "warning",
        f"{GET}.parameters[0].name",
        setting("paths/~notes/get/parameters/0/name", "search text"),
    ),
    (
        "field-name",
        "warning",
        f"{SCHEMAS}.NoteCreate.properties['due date']",
        lambda d: d["components"]["schemas"]["NoteCreate"]["properties"].update(
            {"due date": {"type": "string"}}
        ),
    ),
    (
        "object-properties",
        "warning",
        f"{SCHEMAS}.Empty",
        setting("components/schemas/Empty", {"type": "object"}),
    ),
    (
        "object-properties",
        "warning",
        f"{SCHEMAS}.Note.properties.author",
        deleting("components/schemas/Note/properties/author/properties"),
    ),
    (
        "object-properties",
        "warning",
        f"{SCHEMAS}.Note.properties.meta.items",
        note_property("meta", {"type": "array", "items": {"type": ["object", "null"]}}),
    ),
    (
        "object-properties",
        "warning",
        f"{POST}.requestBody.content['application/json'].schema",
        inline_body({"type": "object"}),
    ),
    (
        "object-properties",
        "warning",
        f"{GET}.responses['200'].content['application/json'].schema.properties.page",
        setting(
            "paths/~notes/get/responses/200/content/application~json/schema",
            {"type": "object", "properties": {"page": {"type": "object"}}},
        ),
    ),
    ("security-schemes-count", "warning", SCHEMES, second_scheme),
    (
        "security-undefined",
        "error",
        f"{GET}.security[0].nope",
        setting("paths/~notes/get/security", [{"nope": []}]),
    ),
    (
        "security-scheme-type",
        "error",
        f"{SCHEMES}.oauth.in",
        setting("components/securitySchemes/oauth", {"type": "apiKey", "in": "query", "name": "k"}),
    ),
    (
        "security-scheme-type",
        "error",
        f"{SCHEMES}.oauth.scheme",
        setting("components/securitySchemes/oauth", {"type": "http", "scheme": "digest"}),
    ),
    (
        "security-scheme-type",
        "error",
        f"{SCHEMES}.oauth.type",
        setting(
            "components/securitySchemes/oauth",
            {"type": "openIdConnect", "openIdConnectUrl": "https://notes.example.com/.well-known"},
        ),
    ),
    (
        "oauth-flow",
        "warning",
        f"{SCHEMES}.oauth.flows",
        setting(
            "components/securitySchemes/oauth/flows/clientCredentials",
            {"tokenUrl": "https://notes.example.com/oauth/token", "scopes": {}},
        ),
    ),
    ("oauth-domain", "error", AUTH_URL, oauth_url("https://login.other.org/authorize")),
    ("oauth-domain", "warning", AUTH_URL, oauth_url("https://auth.example.com/authorize")),
    ("components-schemas", "warning", "$.components", deleting("components/schemas")),
    ("components-schemas", "warning", "$.components.schemas", setting("components/schemas", [])),
    ("components-schemas", "warning", "$", deleting("components")),
    ("circular-ref", "warning", f"{SCHEMAS}.Note", circular),
    (
        "circular-ref",
        "warning",
        f"{SCHEMAS}.Note",
        note_property("parent", {"$ref": "#/components/schemas/Note"}),
    ),
    (
        "request-body-json",
        "warning",
        f"{POST}.requestBody.content['multipart/form-data']",
        setting(
            "paths/~notes/post/requestBody/content",
            {"multipart/form-data": {"schema": {"$ref": "#/components/schemas/NoteCreate"}}},
        ),
    ),
    ("media-type", "error", f"{GET}.responses['200'].content['image/png']", image_response),
    (
        "empty-enum",
        "warning",
        f"{GET}.parameters[1].schema.enum",
        setting("paths/~notes/get/parameters/1/schema/enum", []),
    ),
    (
        "empty-items",
        "warning",
        f"{SCHEMAS}.Note.properties.tags.items",
        setting("components/schemas/Note/properties/tags/items", {}),
    ),
    (
        "empty-items",
        "warning",
        f"{SCHEMAS}.Note.properties.tags",
        deleting("components/schemas/Note/properties/tags/items"),
    ),
    (
        "anyof-null",
        "warning",
        f"{SCHEMAS}.NoteCreate.properties.due.anyOf",
        setting(
            "components/schemas/NoteCreate/properties/due",
            {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
        ),
    ),
    (
        "ref-siblings",
        "warning",
        f"{SCHEMAS}.Note.properties.author",
        note_property(
            "author", {"$ref": "#/components/schemas/NoteCreate", "oneOf": [{"type": "string"}]}
        ),
    ),
    (
        "pattern-properties",
        "warning",
        f"{SCHEMAS}.Note.properties.extra.patternProperties",
        note_property(
            "extra",
            {"type": "object", "properties": {}, "patternProperties": {"^x": {"type": "string"}}},
        ),
    ),
    (
        "free-form-input",
        "warning",
        f"{SCHEMAS}.NoteCreate.additionalProperties",
        setting("components/schemas/NoteCreate/additionalProperties", True),
    ),
    (
        "file-id-refs",
        "error",
        f"{SCHEMAS}.NoteCreate.properties.openaiFileIdRefs",
        lambda d: d["components"]["schemas"]["NoteCreate"]["properties"].update(
            {"openaiFileIdRefs": {"type": "string"}}
        ),
    ),
    (
        "file-response",
        "error",
        f"{SCHEMAS}.Note.properties.openaiFileResponse",
        note_property("openaiFileResponse", {"type": "object", "properties": {}}),
    ),
    (
        "unresolved-ref",
        "error",
        f"{SCHEMAS}.NoteList.properties.notes.items['$ref']",
        setting("components/schemas/NoteList/properties/notes/items/$ref", "#/components/x"),
    ),
    (
        "external-ref",
        "warning",
        f"{SCHEMAS}.NoteList.properties.notes.items['$ref']",
        setting("components/schemas/NoteList/properties/notes/items/$ref", "note.yaml#/Note"),
    ),
    (
        "schema-valid",
        "error",
        f"{SCHEMAS}.Note.properties",
        setting("components/schemas/Note/properties", "id, text"),
    ),
    ("openapi-valid", "error", "$.info", deleting("info/version")),
    ("openapi-valid", "error", f"{GET}.responses", setting("paths/~notes/get/responses", [])),
]


@pytest.mark.parametrize(
    ("rule", "severity", "path", "mutate"),
    BAD,
    ids=[f"{i:02d}-{rule}" for i, (rule, *_rest) in enumerate(BAD)],
)
def test_each_rule_reports_its_problem(rule, severity, path, mutate):
    doc = good()
    mutate(doc)
    problems = lint(doc)
    assert (rule, severity, path) in found(problems), "\n".join(p.line() for p in problems)
    assert not [p for p in problems if p.rule == "linter-internal"]


def test_the_good_spec_has_no_problems():
    assert lint(good()) == []


def test_google_oauth_is_allowed_on_another_domain():
    doc = good()
    oauth_url("https://accounts.google.com/o/oauth2/v2/auth")(doc)
    assert lint(doc) == []


def test_path_level_parameters_count_for_every_operation():
    doc = good()
    doc["paths"]["/notes/{note_id}"]["parameters"] = [
        {"name": "X-Tenant", "in": "header", "schema": {"type": "string"}}
    ]
    header_problems = [p for p in lint(doc) if p.rule == "header-parameter"]
    # Reported once, at the shared parameter, not once per operation.
    assert [p.path for p in header_problems] == ["$.paths['/notes/{note_id}'].parameters[0]"]


def test_a_problem_line_names_severity_path_rule_and_source():
    doc = good()
    doc["paths"]["/notes"]["get"]["summary"] = "s" * 412
    (problem,) = lint(doc)
    assert problem.line() == (
        "error: $.paths['/notes'].get.summary: summary is 412 characters; ChatGPT allows at most "
        "300 [summary-length, OpenAI docs]"
    )


def test_keys_with_quotes_and_newlines_stay_on_one_line():
    doc = good()
    doc["paths"]["/it's\nhere"] = {"get": {"responses": {"200": {"description": "OK"}}}}
    lines = [p.line() for p in lint(doc) if p.rule == "operation-id-missing"]
    assert lines == [
        "warning: $.paths['/it\\'s\\nhere'].get: no operationId; ChatGPT drops the operation "
        '("In path /it\'s\\nhere, method get is missing operationId; skipping") '
        "[operation-id-missing, builder reports]"
    ]


# --- robustness --------------------------------------------------------------------------------


def _node_paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _node_paths(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _node_paths(value, path + (i,))


ODD_VALUES = [None, 0, "", [], {}, "x", True, {"$ref": "#/nowhere"}, {"type": "object"}, [{}]]


def test_any_node_replaced_by_an_odd_value_is_reported_not_crashed_on():
    base = good()
    for i, path in enumerate(p for p in _node_paths(base) if p):
        doc = copy.deepcopy(base)
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = copy.deepcopy(ODD_VALUES[i % len(ODD_VALUES)])
        problems = lint(doc)
        assert not [p for p in problems if p.rule == "linter-internal"], path
        assert all(p.severity in ("error", "warning") for p in problems)


@pytest.mark.parametrize(
    "text",
    [
        "- a\n- b",
        "just text",
        "42",
        "openapi: 3.1.0\npaths: [1, 2]\ncomponents: 7\nservers: nope",
        "openapi: 3.1.0\npaths:\n  /x:\n    get: [1]\n    post: {parameters: {a: 1}}",
        "{'openapi': '3.1.0', 'paths': {'/a': {'get': {'parameters': [null, 3, {in: header}]}}}}",
        "a: &a [*a]",
        "openapi: 3.1.0\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/A'}",
    ],
)
def test_garbage_documents_are_reported_not_crashed_on(text):
    document, problems = parse(text)
    problems += lint(document) if document is not None else []
    assert problems
    assert not [p for p in problems if p.rule == "linter-internal"]


def test_a_yaml_alias_bomb_is_refused():
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"] + [
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(7)
    ]
    document, problems = parse("\n".join(levels))
    assert problems == []
    assert found(lint(document)) == {("input-too-large", "error", "$")}


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "a: " + "[" * 100_000])
def test_deeply_nested_input_is_refused(text):
    document, problems = parse(text)
    assert document is None
    assert found(problems) == {("input-too-deep", "error", "$")}


def test_openapi_3_0_specs_are_validated_as_3_0():
    doc = good()
    doc["openapi"] = "3.0.3"
    doc["components"]["schemas"]["NoteCreate"]["properties"]["due"] = {
        "type": "string",
        "nullable": True,
    }
    assert found(lint(doc)) == {("openapi-version", "warning", "$.openapi")}


# --- the spec this app serves ------------------------------------------------------------------

MODES = [
    pytest.param({"ACTION_AUTH": "oauth"}, id="oauth"),
    pytest.param({"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "bearer"}, id="apikey-bearer"),
    pytest.param({"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "basic"}, id="apikey-basic"),
    pytest.param({"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "custom"}, id="apikey-custom"),
    pytest.param({"ACTION_AUTH": "none"}, id="none"),
]


def lint_cli(app: Flask, *args: str, **kwargs: Any):
    return app.test_cli_runner().invoke(args=["spec", "lint", *args], **kwargs)


@pytest.mark.parametrize("app_settings", MODES)
def test_served_spec_has_no_errors(app):
    result = lint_cli(app)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("0 errors, ")


@pytest.mark.parametrize("app_settings", MODES)
def test_served_spec_passes_strict(app):
    result = lint_cli(app, "--strict")
    assert result.output.splitlines()[-1] == "0 errors, 0 warnings", result.output
    assert result.exit_code == 0


def test_checked_in_spec_passes_strict(app):
    result = lint_cli(app, "--strict", str(Path(__file__).parents[1] / "openapi" / "openapi.yaml"))
    assert result.exit_code == 0, result.output


# --- the command on files, standard input and URLs ---------------------------------------------


def test_lints_a_json_file_and_a_yaml_file(app, tmp_path):
    as_json = tmp_path / "spec.json"
    as_json.write_text(json.dumps(good()), encoding="utf-8")
    for source in (as_json, GOOD):
        result = lint_cli(app, "--strict", str(source))
        assert result.exit_code == 0, result.output
        assert result.output == "0 errors, 0 warnings\n"


def test_yaml_is_recognised_by_content_not_name(app, tmp_path):
    source = tmp_path / "spec.json"
    source.write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    result = lint_cli(app, str(source))
    assert result.exit_code == 0, result.output


def test_reads_standard_input(app):
    result = lint_cli(app, "-", input=GOOD.read_text(encoding="utf-8"))
    assert result.exit_code == 0, result.output
    assert result.output == "0 errors, 0 warnings\n"


def test_warnings_fail_only_with_strict(app, tmp_path):
    doc = good()
    del doc["paths"]["/notes"]["get"]["x-openai-isConsequential"]
    source = tmp_path / "spec.yaml"
    source.write_text(yaml.safe_dump(doc), encoding="utf-8")
    line = (
        "$.paths['/notes'].get: x-openai-isConsequential is not set, so ChatGPT applies its "
        "default for GET (false); set it explicitly [consequential-missing, OpenAI docs]"
    )

    relaxed = lint_cli(app, str(source))
    assert relaxed.exit_code == 0
    assert relaxed.output == f"warning: {line}\n0 errors, 1 warning\n"

    strict = lint_cli(app, str(source), "--strict")
    assert strict.exit_code == 1
    assert strict.output == f"error: {line}\n1 error, 0 warnings\n"


def test_errors_fail_without_strict(app, tmp_path):
    doc = good()
    doc["servers"] = [{"url": "http://notes.example.com"}]
    source = tmp_path / "spec.yaml"
    source.write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = lint_cli(app, str(source))
    assert result.exit_code == 1
    assert result.output.startswith("error: $.servers[0].url: server url ")
    assert result.output.endswith("1 error, 0 warnings\n")


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "input-unreadable"),
        (b"openapi: [3.1.0\npaths: {", "input-unparseable"),
        (b'{"openapi": "3.1.0", "paths": {', "input-unparseable"),
        (b"", "input-unparseable"),
        (b"- just\n- a list\n", "openapi-document"),
    ],
    ids=["binary", "bad-yaml", "bad-json", "empty", "list"],
)
def test_garbage_files_are_reported_without_a_traceback(app, tmp_path, content, rule):
    source = tmp_path / "garbage.yaml"
    source.write_bytes(content)
    result = lint_cli(app, str(source))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    first, last = result.output.splitlines()
    assert first.startswith("error: $: ")
    assert f"[{rule}, " in first
    assert last == "1 error, 0 warnings"


def test_a_missing_file_is_reported(app, tmp_path):
    missing = tmp_path / "nope.yaml"
    result = lint_cli(app, str(missing))
    assert result.exit_code == 1
    assert result.output == (
        f"error: $: cannot read {missing}: No such file or directory [input-unreadable, input]\n"
        "1 error, 0 warnings\n"
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def spec_server(tmp_path) -> Iterator[str]:
    """A real HTTP server on a free loopback port, serving tmp_path."""
    (tmp_path / "good.yaml").write_bytes(GOOD.read_bytes())
    bad = good()
    del bad["paths"]["/notes"]["get"]["x-openai-isConsequential"]
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_lints_a_url(app, spec_server):
    result = lint_cli(app, "--strict", f"{spec_server}/good.yaml")
    assert result.exit_code == 0, result.output
    assert result.output == "0 errors, 0 warnings\n"

    result = lint_cli(app, f"{spec_server}/bad.json")
    assert result.exit_code == 0
    assert "[consequential-missing, OpenAI docs]" in result.output
    assert lint_cli(app, "--strict", f"{spec_server}/bad.json").exit_code == 1


def test_an_http_error_is_reported(app, spec_server):
    result = lint_cli(app, f"{spec_server}/missing.yaml")
    assert result.exit_code == 1
    assert result.output == (
        f"error: $: {spec_server}/missing.yaml answered HTTP 404 File not found "
        "[input-unreadable, input]\n1 error, 0 warnings\n"
    )


def test_an_unreachable_url_is_reported():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    document, problems = load(f"http://127.0.0.1:{port}/openapi.json", timeout=5)
    assert document is None
    assert found(problems) == {("input-unreadable", "error", "$")}
    assert f"cannot fetch http://127.0.0.1:{port}/openapi.json: " in problems[0].message
