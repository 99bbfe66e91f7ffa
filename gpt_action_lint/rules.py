"""The rules, as a table: one row per rule, with its level, what it checks and where it comes from.

A row's key is the rule id printed with each problem; a rule whose cases rest on different
sources (and so may have different levels) has one row per case, `id:case`. Levels follow the
sources: OpenAI's docs, ChatGPT's own editor and the OpenAPI specification make errors; builders'
reports and inference make warnings, because the importer changes without notice and a report
may be stale. The consequential flags are the exception: documented behaviour, but a missing or
false flag is a choice to confirm, not a mistake.

Sources are URLs where there is one. "facts §N" is a section of the project's GPT actions fact
sheet (gpt-actions-facts.md, kept outside this repository), which collects builders' reports and
what ChatGPT's editor code shows, with their dates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gpt_action_lint import checks
from gpt_action_lint.problem import Level, Problem, json_path
from gpt_action_lint.walk import Path, Spec

ERROR: Level = "error"
WARNING: Level = "warning"

# What a problem line names as its basis.
DOC = "OpenAI docs"
UI = "ChatGPT UI"
COMM = "builder reports"
ONE = "one builder report"
INF = "inferred"
OAS = "OpenAPI spec"
INPUT = "input"

START = "https://platform.openai.com/docs/actions/getting-started"
PROD = "https://developers.openai.com/api/docs/actions/production"
OAS_31 = "https://spec.openapis.org/oas/v3.1.0"
OAS_OBJECT = f"{OAS_31}#openapi-object"
SCHEMA_2020 = "https://json-schema.org/draft/2020-12/json-schema-core"
MAX_30 = "https://community.openai.com/t/openapi-spec-can-have-a-maximum-of-30-operations/586484"
FACTS_IMPORT = "facts §1 Versions, format, import"
FACTS_SERVERS = "facts §1 servers"
FACTS_OPERATIONS = "facts §1 Operations, operationId, descriptions"
FACTS_SCHEMAS = "facts §1 Parameters, bodies, schema features"
FACTS_SECURITY = "facts §1 security and securitySchemes"
FACTS_AUTH = "facts §3 Authentication (ChatGPT's editor code)"
FACTS_OAUTH = "facts §3 OAuth flow details"
FACTS_KWARGS = "facts §6 item 9 (UnrecognizedKwargsError)"
LINTER = "this linter"

Check = Callable[[Spec], Iterator[checks.Finding]]


@dataclass(frozen=True)
class Rule:
    key: str
    level: Level
    basis: str
    check: Check | None  # None: reported while reading the input, not by a check
    what: str  # what the rule checks, in one sentence
    source: str

    @property
    def id(self) -> str:
        return self.key.partition(":")[0]

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(self.level, json_path(path), self.id, message, self.basis)


# Columns: key, level, basis (printed with each problem), check; what it checks, source. Laid out
# by hand, a row or two per rule, where the formatter would give each argument its own line.
TABLE = (
    # Reading the input.
    Rule("input-unreadable", ERROR, INPUT, None, "the file or URL can be read as UTF-8", LINTER),
    Rule("input-unparseable", ERROR, INPUT, None, "the text is one JSON or YAML document", LINTER),
    Rule("input-too-deep", ERROR, INPUT, None, "the document is not nested too deeply", LINTER),
    Rule("input-too-large", ERROR, INPUT, None, "YAML aliases expand to under 10^6 nodes", LINTER),
    Rule("openapi-document", ERROR, OAS, None, "the document is a mapping", OAS_OBJECT),
    Rule("linter-internal", ERROR, INPUT, None, "no check crashed on this document", LINTER),
    # The document.
    Rule("openapi-version", WARNING, COMM, checks.openapi_version,
         "openapi is the string 3.1.0 (ChatGPT rejects 3.0.x and Swagger)", FACTS_IMPORT),
    Rule("openapi-version:3.1.x", WARNING, ONE, checks.openapi_version,
         "openapi is 3.1.0 rather than another 3.1.x", FACTS_IMPORT),
    Rule("servers", WARNING, COMM, checks.servers, "there is exactly one server", FACTS_SERVERS),
    Rule("server-url", WARNING, COMM, checks.server_url,
         "the server url is absolute, with a lower-case host and no explicit port", FACTS_SERVERS),
    Rule("server-url:inferred", WARNING, INF, checks.server_url,
         "the server url has no variables, query or fragment", FACTS_SERVERS),
    Rule("server-https", ERROR, DOC, checks.server_url,
         "the server is https on port 443 (TLS 1.2+ on port 443)", PROD),
    Rule("server-public", ERROR, DOC, checks.server_url,
         "the server host is public (a valid public certificate)", PROD),
    Rule("components-schemas", WARNING, COMM, checks.components_schemas,
         "components.schemas exists and is an object", FACTS_IMPORT),
    # Operations.
    Rule("unsupported-method", WARNING, ONE, checks.unsupported_methods,
         "no HEAD, OPTIONS or TRACE operations", FACTS_OPERATIONS),
    Rule("operation-count", WARNING, COMM, checks.operation_count,
         "at most 30 operations", MAX_30),
    Rule("operation-id-missing", WARNING, COMM, checks.operation_ids,
         "every operation has an operationId", FACTS_OPERATIONS),
    Rule("operation-id-format", WARNING, INF, checks.operation_ids,
         "operationIds match ^[a-zA-Z0-9_-]{1,64}$, OpenAI's function-name rule", FACTS_OPERATIONS),
    Rule("operation-id-unique", ERROR, OAS, checks.operation_ids,
         "operationIds are unique", f"{OAS_31}#operation-object"),
    Rule("summary-length", ERROR, DOC, checks.text_lengths,
         "path and operation summaries are at most 300 characters", START),
    Rule("description-length", ERROR, DOC, checks.text_lengths,
         "path and operation descriptions are at most 300 characters", START),
    Rule("parameter-description-length", ERROR, DOC, checks.text_lengths,
         "parameter descriptions are at most 700 characters", START),
    Rule("consequential-missing", WARNING, DOC, checks.consequential,
         "every operation sets x-openai-isConsequential", START),
    Rule("consequential-type", ERROR, DOC, checks.consequential,
         "x-openai-isConsequential is a boolean", START),
    Rule("consequential-false", WARNING, DOC, checks.consequential,
         "only GET operations have x-openai-isConsequential: false", START),
    # Parameters and bodies.
    Rule("parameter-ref", WARNING, ONE, checks.parameters,
         "parameters are inline, not $refs", FACTS_SCHEMAS),
    Rule("duplicate-parameter", ERROR, OAS, checks.parameters,
         "no parameter list holds a name and location twice", f"{OAS_31}#operation-object"),
    Rule("duplicate-parameter:locations", WARNING, ONE, checks.parameters,
         "an operation's parameter names are unique across locations", FACTS_SCHEMAS),
    Rule("header-parameter", ERROR, DOC, checks.parameters,
         "no header parameters (custom headers are not supported)", PROD),
    Rule("cookie-parameter", WARNING, INF, checks.parameters,
         "no cookie parameters", FACTS_SCHEMAS),
    Rule("field-name", WARNING, COMM, checks.field_names,
         "parameter and request body field names have no white space", FACTS_KWARGS),
    Rule("request-body-json", WARNING, COMM, checks.media_types,
         "request bodies are application/json", FACTS_SCHEMAS),
    Rule("media-type", ERROR, DOC, checks.media_types,
         "no image or video request or response content", PROD),
    Rule("free-form-input", WARNING, COMM, checks.free_form_input,
         "request body schemas declare every property (no additionalProperties)", FACTS_KWARGS),
    # Security.
    Rule("security-schemes-count", WARNING, COMM, checks.security,
         "at most one security scheme", FACTS_SECURITY),
    Rule("security-undefined", ERROR, OAS, checks.security,
         "security requirements name defined schemes", f"{OAS_31}#security-requirement-object"),
    Rule("security-scheme-type", ERROR, UI, checks.security_schemes,
         "schemes are ones ChatGPT offers: header API key, Basic, Bearer, OAuth", FACTS_AUTH),
    Rule("oauth-flow", WARNING, ONE, checks.security_schemes,
         "OAuth has the authorization code flow and no other", FACTS_OAUTH),
    Rule("oauth-domain", ERROR, DOC, checks.security_schemes,
         "OAuth URLs are on the server's domain (Google, Microsoft, Adobe exempt)", PROD),
    Rule("oauth-domain:subdomain", WARNING, INF, checks.security_schemes,
         "OAuth URLs are on the server's host, not another sub-domain of its domain", FACTS_OAUTH),
    # References.
    Rule("external-ref", WARNING, INF, checks.refs,
         "$refs point inside the document", FACTS_SCHEMAS),
    Rule("unresolved-ref", ERROR, OAS, checks.refs,
         "local $refs point to something", f"{OAS_31}#reference-object"),
    Rule("circular-ref", WARNING, ONE, checks.circular_refs,
         "component schemas do not refer to themselves", FACTS_SCHEMAS),
    # Schemas, every one and every one nested in it.
    Rule("object-properties", WARNING, COMM, checks.object_properties,
         "object schemas declare properties", FACTS_SCHEMAS),
    Rule("empty-enum", WARNING, ONE, checks.empty_enum, "no enum is empty", FACTS_IMPORT),
    Rule("empty-items", WARNING, ONE, checks.empty_items,
         "array schemas give their item type", FACTS_SCHEMAS),
    Rule("anyof-null", WARNING, ONE, checks.anyof_null,
         'nullable uses type: [<type>, "null"], not anyOf/oneOf with {type: null}', FACTS_SCHEMAS),
    Rule("ref-siblings", WARNING, ONE, checks.ref_siblings,
         "$ref has no oneOf/anyOf/allOf beside it", FACTS_SCHEMAS),
    Rule("pattern-properties", WARNING, ONE, checks.pattern_properties,
         "no patternProperties", FACTS_SCHEMAS),
    Rule("file-id-refs", ERROR, DOC, checks.file_fields,
         "openaiFileIdRefs is an array of strings", f"{START} (sending files)"),
    Rule("file-response", ERROR, DOC, checks.file_fields,
         "openaiFileResponse is an array", f"{START} (returning files)"),
    # Validity.
    Rule("schema-valid", ERROR, OAS, checks.schema_valid,
         "every schema is valid JSON Schema 2020-12 (OpenAPI 3.1)", SCHEMA_2020),
    Rule("openapi-valid", ERROR, OAS, checks.openapi_valid,
         "openapi-spec-validator accepts the document", OAS_31),
)  # fmt: skip

RULES: dict[str, Rule] = {rule.key: rule for rule in TABLE}
