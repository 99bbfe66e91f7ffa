"""Every rule in the table: its row is well formed, and a known-bad spec makes it report."""

from __future__ import annotations

import ast
import inspect
import re
import string
from collections.abc import Callable
from typing import Any

import pytest

from gpt_action_lint import RULES, TABLE, Rule, checks, lint
from gpt_action_lint.tests.helpers import good
from gpt_action_lint.walk import Spec, normalize

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


def many_invalid_operations(doc: dict) -> None:
    for i in range(51):
        doc["paths"][f"/bad{i}"] = {
            "get": {"operationId": f"bad{i}", "x-openai-isConsequential": False, "responses": []}
        }


def swagger(doc: dict) -> None:
    del doc["openapi"]
    doc["swagger"] = "2.0"


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
    ("openapi-version:3.0", "warning", "$.openapi", setting("openapi", "3.0.3")),
    ("openapi-version:3.1.x", "warning", "$.openapi", setting("openapi", "3.1.1")),
    ("openapi-version:type", "warning", "$.openapi", setting("openapi", 3.1)),
    ("openapi-version", "warning", "$.openapi", setting("openapi", "2.0")),
    ("openapi-version:missing", "warning", "$.openapi", deleting("openapi")),
    ("openapi-version:swagger", "warning", "$.openapi", swagger),
    ("servers", "warning", "$", deleting("servers")),
    ("servers", "warning", "$.servers", setting("servers", [])),
    (
        "servers:many",
        "warning",
        "$.servers",
        lambda d: d["servers"].append({"url": "https://other.example.com"}),
    ),
    ("server-url", "warning", "$.servers[0].url", setting("servers/0/url", "/api")),
    (
        "server-url:missing",
        "warning",
        "$.servers[0]",
        setting("servers/0", {"description": "x"}),
    ),
    (
        "server-url:invalid",
        "warning",
        "$.servers[0].url",
        setting("servers/0/url", "https://[notes.example.com"),
    ),
    (
        "server-url:case",
        "warning",
        "$.servers[0].url",
        setting("servers/0/url", "https://N.example.com"),
    ),
    (
        "server-url:port",
        "warning",
        "$.servers[0].url",
        setting("servers/0/url", "https://n.com:443"),
    ),
    (
        "server-url:query",
        "warning",
        "$.servers[0].url",
        setting("servers/0/url", "https://n.com/?v=1"),
    ),
    (
        "server-url:variables",
        "warning",
        "$.servers[0].url",
        setting("servers/0/url", "https://{host}/api"),
    ),
    ("server-https", "error", "$.servers[0].url", setting("servers/0/url", "http://n.example.com")),
    (
        "server-https:port",
        "error",
        "$.servers[0].url",
        setting("servers/0/url", "https://n.com:8443"),
    ),
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
        "duplicate-parameter:locations",
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
        "field-name:parameter",
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
    (
        "object-properties:empty",
        "warning",
        f"{SCHEMAS}.Note.properties.author.properties",
        setting("components/schemas/Note/properties/author/properties", {}),
    ),
    (
        "object-properties:empty",
        "warning",
        f"{SCHEMAS}.Note.properties.labels.properties",
        note_property(
            "labels",
            {
                "type": "object",
                "properties": {},
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
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
        "security-scheme-type:apikey",
        "error",
        f"{SCHEMES}.oauth.in",
        setting("components/securitySchemes/oauth", {"type": "apiKey", "in": "query", "name": "k"}),
    ),
    (
        "security-scheme-type:http",
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
    (
        "oauth-flow:missing",
        "warning",
        f"{SCHEMES}.oauth.flows",
        setting("components/securitySchemes/oauth/flows", {}),
    ),
    ("oauth-domain", "error", AUTH_URL, oauth_url("https://login.other.org/authorize")),
    (
        "oauth-domain:subdomain",
        "warning",
        AUTH_URL,
        oauth_url("https://auth.example.com/authorize"),
    ),
    (
        "components-schemas:missing",
        "warning",
        "$.components",
        deleting("components/schemas"),
    ),
    ("components-schemas", "warning", "$.components.schemas", setting("components/schemas", [])),
    ("components-schemas:components", "warning", "$", deleting("components")),
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
        "empty-items:missing",
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
    (
        "openapi-valid:stopped",
        "error",
        "$",
        setting("paths/~notes/get/responses/200", {"$ref": "#/components/responses/Nope"}),
    ),
    ("openapi-valid:more", "error", "$", many_invalid_operations),
]


@pytest.mark.parametrize(
    ("key", "severity", "path", "mutate"),
    BAD,
    ids=[f"{i:02d}-{key}" for i, (key, *_rest) in enumerate(BAD)],
)
def test_each_rule_reports_its_problem(key, severity, path, mutate):
    rule = RULES[key]
    doc = good()
    mutate(doc)
    problems = lint(doc)
    reported = {
        (p.rule, p.severity, p.path, p.source) for p in problems if _in_words_of(rule, p.message)
    }
    assert (rule.id, severity, path, rule.basis) in reported, "\n".join(p.line() for p in problems)
    assert not [p for p in problems if p.rule == "linter-internal"]


def _in_words_of(rule: Rule, message: str) -> bool:
    """Whether `message` is the row's template filled in, whatever its arguments."""
    parts = string.Formatter().parse(rule.message)
    pattern = "".join(
        re.escape(text) + (".*" if field is not None else "") for text, field, *_ in parts
    )
    return re.fullmatch(pattern, message, re.DOTALL) is not None


# --- the table ---------------------------------------------------------------------------------

# Rules reported while reading input or by the driver, each tested in test_lint.py or
# test_cli.py.
NOT_IN_BAD = {
    "input-unreadable",
    "input-unreadable:fetch",
    "input-unreadable:http",
    "input-unreadable:size",
    "input-unreadable:text",
    "input-unparseable",
    "input-unparseable:empty",
    "input-unparseable:null",
    "input-too-deep",
    "input-too-deep:lint",
    "input-too-deep:check",
    "input-too-large",
    "openapi-document",
    "linter-internal",
}
# A URL, or words naming what a rule rests on where no page says it.
SOURCE = re.compile(
    r"^(https://\S+|importer messages reported by builders|the GPT editor|ChatGPT"
    r"|UnrecognizedKwargsError|this linter)"
)


def test_every_rule_has_a_known_bad_case():
    assert {key for key, *_rest in BAD} | NOT_IN_BAD == set(RULES)


@pytest.mark.parametrize("rule", TABLE, ids=[rule.key for rule in TABLE])
def test_each_row_is_well_formed(rule):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*(:[a-z0-9.]+)?", rule.key)
    assert rule.level in ("error", "warning")
    assert rule.basis in (
        "OpenAI docs",
        "ChatGPT UI",
        "OpenAPI spec",
        "builder reports",
        "one builder report",
        "inferred",
        "input",
    )
    assert SOURCE.match(rule.source), rule.source
    assert rule.what and "\n" not in rule.what
    assert rule.check is None or rule.check.__module__ == checks.__name__


def test_keys_are_unique():
    assert len(RULES) == len(TABLE)


def _checks_module_keys() -> set[str]:
    """The strings in checks.py written like a rule key."""
    return {
        node.value
        for node in ast.walk(ast.parse(inspect.getsource(checks)))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[a-z]+(-[a-z0-9]+)+(:[a-z0-9.]+)?|servers(:[a-z]+)?", node.value)
    }


def test_every_key_a_check_can_yield_is_in_the_table():
    in_checks = _checks_module_keys()
    assert in_checks - set(RULES) == set()
    assert in_checks == {rule.key for rule in TABLE if rule.check is not None}


def test_every_check_function_is_in_the_table():
    public = {
        fn
        for name, fn in inspect.getmembers(checks, inspect.isfunction)
        if fn.__module__ == checks.__name__
        and not name.startswith("_")
        and list(inspect.signature(fn).parameters) == ["spec"]
    }
    assert public == {rule.check for rule in TABLE if rule.check is not None}


@pytest.mark.parametrize(
    "mutate", [m for *_rest, m in BAD], ids=[f"{i:02d}-{k}" for i, (k, *_r) in enumerate(BAD)]
)
def test_a_check_yields_only_the_rows_that_name_it(mutate):
    doc = good()
    mutate(doc)
    spec = Spec(normalize(doc))
    for check in {rule.check for rule in TABLE if rule.check is not None}:
        for key, _path, _message in check(spec):
            assert RULES[key].check is check, (key, check.__name__)


# --- cases beside the table --------------------------------------------------------------------


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


def test_openapi_3_0_specs_are_validated_as_3_0():
    doc = good()
    doc["openapi"] = "3.0.3"
    doc["components"]["schemas"]["NoteCreate"]["properties"]["due"] = {
        "type": "string",
        "nullable": True,
    }
    assert {(p.rule, p.severity) for p in lint(doc)} == {("openapi-version", "warning")}
