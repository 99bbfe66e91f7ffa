"""The rules, as a table: one row per rule, with its level, what it checks, where it comes from
and the message it prints.

A row's key is the rule id printed with each problem; a rule with several cases (different
sources, and so maybe different levels, or a different message) has one row per case, `id:case`.
Levels follow the sources: OpenAI's docs, ChatGPT's own editor and the OpenAPI specification make
errors; builders' reports and inference make warnings, because the importer changes without
notice and a report may be stale. The consequential flags are the exception: documented
behaviour, but a missing or false flag is a choice to confirm, not a mistake.

Sources are URLs where there is one. Where there is none, the source says what the rule rests
on: the messages of ChatGPT's importer as builders reported them on OpenAI's community forum
and in public repositories (2023-2026), or what the GPT editor's own code does.

A message is a `str.format` template; the check that finds the problem gives its arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

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
FACTS_IMPORT = "importer messages reported by builders (versions, format, import)"
FACTS_SERVERS = "importer messages reported by builders (servers, root origin)"
FACTS_OPERATIONS = "importer messages reported by builders (operations, operationIds)"
FACTS_SCHEMAS = "importer messages reported by builders (parameters, bodies, schemas)"
FACTS_SECURITY = "importer messages reported by builders (security schemes)"
FACTS_AUTH = "the GPT editor's authentication dialog (its code)"
FACTS_OAUTH = "ChatGPT's OAuth flow as builders reported it"
FACTS_KWARGS = "UnrecognizedKwargsError at call time, as builders reported it"
LINTER = "this linter"

# Long message endings that several rows share; as parts of templates, their braces are doubled.
SCHEMAS_OBJECT = (
    'ChatGPT requires components.schemas to be an object, even {{}} ("In components section, '
    'schemas subsection is not an object")'
)
OFFERED = (
    ". ChatGPT offers None, API key (Basic, Bearer or a custom header) and OAuth (authorization "
    "code)"
)

Check = Callable[[Spec], Iterator[checks.Finding]]


@dataclass(frozen=True)
class Rule:
    key: str
    level: Level
    basis: str
    check: Check | None  # None: reported while reading the input, not by a check
    what: str  # what the rule checks, in one sentence
    source: str
    message: str  # a str.format template; the check gives its arguments

    @property
    def id(self) -> str:
        return self.key.partition(":")[0]

    def problem(self, path: Path, **args: Any) -> Problem:
        message = self.message.format(**args)
        return Problem(self.level, json_path(path), self.id, message, self.basis)


# Columns: key, level, basis (printed with each problem), check; what it checks, source; message.
# Laid out by hand, a row per two or three lines, where the formatter would give each argument
# its own line. Shared endings are joined with + rather than put in an f-string, so that a
# template's placeholders keep single braces.
TABLE = (
    # Reading the input.
    Rule("input-unreadable", ERROR, INPUT, None, "the file can be read", LINTER,
         "cannot read {source}: {reason}"),
    Rule("input-unreadable:fetch", ERROR, INPUT, None, "the URL can be fetched", LINTER,
         "cannot fetch {source}: {reason}"),
    Rule("input-unreadable:http", ERROR, INPUT, None, "the URL answers without an HTTP error",
         LINTER, "{source} answered HTTP {status}"),
    Rule("input-unreadable:size", ERROR, INPUT, None, "the input is at most 10 MiB", LINTER,
         "{source} is larger than {limit} bytes"),
    Rule("input-unreadable:text", ERROR, INPUT, None, "the input is UTF-8 text", LINTER,
         "{source} is not UTF-8 text (byte {byte}); is it a spec?"),
    Rule("input-unparseable", ERROR, INPUT, None, "the text is JSON or YAML", LINTER,
         "{source}: {reason}"),
    Rule("input-unparseable:empty", ERROR, INPUT, None, "the text is not empty", LINTER,
         "{source} is empty"),
    Rule("input-unparseable:null", ERROR, INPUT, None, "the text holds a document", LINTER,
         "{source} holds no document"),
    Rule("input-too-deep", ERROR, INPUT, None, "the text is not nested too deeply to parse",
         LINTER, "{source} is nested too deeply"),
    Rule("input-too-deep:lint", ERROR, INPUT, None, "the document is not nested too deeply",
         LINTER, "the document is nested too deeply to lint"),
    Rule("input-too-deep:check", ERROR, INPUT, None, "no check recurses too deeply", LINTER,
         "the document is nested too deeply to check ({check})"),
    Rule("input-too-large", ERROR, INPUT, None, "YAML aliases expand to under 10^6 nodes", LINTER,
         "the document has more than {limit} nodes (YAML aliases expand); not linted"),
    Rule("openapi-document", ERROR, OAS, None, "the document is a mapping", OAS_OBJECT,
         "the document is a {type}, not an object; an OpenAPI document is a mapping with openapi, "
         "info, paths"),
    Rule("linter-internal", ERROR, INPUT, None, "no check crashed on this document", LINTER,
         "check {check} failed on this document: {error}"),
    # The document.
    Rule("openapi-version", WARNING, COMM, checks.openapi_version,
         "openapi is 3.1.0 rather than another version", FACTS_IMPORT,
         'openapi is {version}; ChatGPT imports OpenAPI 3.1.0, use openapi: "3.1.0"'),
    Rule("openapi-version:3.0", WARNING, COMM, checks.openapi_version,
         "openapi is 3.1.0 rather than 3.0.x (ChatGPT rejects 3.0.x)", FACTS_IMPORT,
         "openapi is {version}; ChatGPT rejects 3.0.x (\"Input should be '3.1.1' or '3.1.0'\"), "
         'use openapi: "3.1.0"'),
    Rule("openapi-version:3.1.x", WARNING, ONE, checks.openapi_version,
         "openapi is 3.1.0 rather than another 3.1.x", FACTS_IMPORT,
         "openapi is {version}; one importer version accepted only '3.1.0', use openapi: "
         '"3.1.0"'),
    Rule("openapi-version:missing", WARNING, COMM, checks.openapi_version,
         "the document has an openapi field", FACTS_IMPORT,
         'openapi is missing; ChatGPT imports OpenAPI 3.1.0 only, use openapi: "3.1.0"'),
    Rule("openapi-version:swagger", WARNING, COMM, checks.openapi_version,
         "the document is OpenAPI, not Swagger", FACTS_IMPORT,
         'a Swagger {swagger} document; ChatGPT imports OpenAPI 3.1.0 only, use openapi: "3.1.0"'),
    Rule("openapi-version:type", WARNING, COMM, checks.openapi_version,
         "openapi is a string", FACTS_IMPORT,
         'openapi is {version}, not a string; use openapi: "3.1.0" (quoted in YAML)'),
    Rule("servers", WARNING, COMM, checks.servers, "there is a server", FACTS_SERVERS,
         'no servers; ChatGPT says "Could not find a valid URL in `servers`": add exactly one '
         "absolute https URL"),
    Rule("servers:many", WARNING, COMM, checks.servers, "there is only one server", FACTS_SERVERS,
         '{count} servers; ChatGPT uses only the first ("Multiple servers found"), keep exactly '
         "one"),
    Rule("server-url", WARNING, COMM, checks.server_url, "the server url is absolute",
         FACTS_SERVERS,
         'server url {url} is not absolute; ChatGPT says "Could not find a valid URL in '
         '`servers`", use https://host[/prefix]'),
    Rule("server-url:missing", WARNING, COMM, checks.server_url, "the first server has a url",
         FACTS_SERVERS,
         'the first server has no url; ChatGPT says "Could not find a valid URL in `servers`"'),
    Rule("server-url:invalid", WARNING, COMM, checks.server_url, "the server url is a URL",
         FACTS_SERVERS, "server url {url} is not a valid URL ({error})"),
    Rule("server-url:port", WARNING, COMM, checks.server_url,
         "the server url names no port, not even 443", FACTS_SERVERS,
         "server url {url} names port 443; explicit ports make ChatGPT ignore the server (\"not "
         'under the root origin"), drop it'),
    Rule("server-url:case", WARNING, COMM, checks.server_url,
         "the server host is in lower case", FACTS_SERVERS,
         'server host {host} has upper-case letters; ChatGPT ignores such servers ("not under the '
         'root origin"), write it in lower case'),
    Rule("server-url:variables", WARNING, INF, checks.server_url,
         "the server url has no variables", FACTS_SERVERS,
         "server url {url} has variables; give the literal https URL ChatGPT should call"),
    Rule("server-url:query", WARNING, INF, checks.server_url,
         "the server url has no query or fragment", FACTS_SERVERS,
         "server url {url} has a query or fragment; ChatGPT appends paths to it, keep only "
         "scheme, host and an optional path prefix"),
    Rule("server-https", ERROR, DOC, checks.server_url, "the server is https (TLS 1.2+)", PROD,
         "server url {url} is not https; ChatGPT calls actions over TLS 1.2+ on port 443 only"),
    Rule("server-https:port", ERROR, DOC, checks.server_url, "the server is on port 443", PROD,
         "server url {url} has port {port}; ChatGPT calls actions on port 443 only"),
    Rule("server-public", ERROR, DOC, checks.server_url,
         "the server host is public (a valid public certificate)", PROD,
         "server host {host} is not publicly reachable; ChatGPT calls from OpenAI's servers and "
         "needs a valid public certificate"),
    Rule("components-schemas", WARNING, COMM, checks.components_schemas,
         "components.schemas is an object", FACTS_IMPORT,
         "components.schemas is not an object; " + SCHEMAS_OBJECT),
    Rule("components-schemas:missing", WARNING, COMM, checks.components_schemas,
         "components.schemas exists", FACTS_IMPORT,
         "components.schemas is missing; " + SCHEMAS_OBJECT),
    Rule("components-schemas:components", WARNING, COMM, checks.components_schemas,
         "components exists (for its schemas)", FACTS_IMPORT, "no components; " + SCHEMAS_OBJECT),
    # Operations.
    Rule("unsupported-method", WARNING, ONE, checks.unsupported_methods,
         "no HEAD, OPTIONS or TRACE operations", FACTS_OPERATIONS,
         'ChatGPT skips {METHOD} operations ("Path {url_path} has unrecognized method {method}"); '
         "use GET, POST, PUT, PATCH or DELETE"),
    Rule("operation-count", WARNING, COMM, checks.operation_count, "at most 30 operations", MAX_30,
         "{count} operations; ChatGPT refuses more than 30 (\"OpenAPI spec can have a maximum of "
         '30 operations")'),
    Rule("operation-id-missing", WARNING, COMM, checks.operation_ids,
         "every operation has an operationId", FACTS_OPERATIONS,
         'no operationId; ChatGPT drops the operation ("In path {url_path}, method {method} is '
         'missing operationId; skipping")'),
    Rule("operation-id-format", WARNING, INF, checks.operation_ids,
         "operationIds match ^[a-zA-Z0-9_-]{1,64}$, OpenAI's function-name rule", FACTS_OPERATIONS,
         "operationId {id} is not a valid function name; ChatGPT uses it as one, so match "
         "^[a-zA-Z0-9_-]{{1,64}}$"),
    Rule("operation-id-unique", ERROR, OAS, checks.operation_ids,
         "operationIds are unique", f"{OAS_31}#operation-object",
         "operationId {id} is also used by {METHOD} {url_path}; operationIds must be unique"),
    Rule("summary-length", ERROR, DOC, checks.text_lengths,
         "path and operation summaries are at most 300 characters", START,
         "summary is {length} characters; ChatGPT allows at most 300"),
    Rule("description-length", ERROR, DOC, checks.text_lengths,
         "path and operation descriptions are at most 300 characters", START,
         "description is {length} characters; ChatGPT allows at most 300"),
    Rule("parameter-description-length", ERROR, DOC, checks.text_lengths,
         "parameter descriptions are at most 700 characters", START,
         "parameter description is {length} characters; ChatGPT allows at most 700"),
    Rule("consequential-missing", WARNING, DOC, checks.consequential,
         "every operation sets x-openai-isConsequential", START,
         "x-openai-isConsequential is not set, so ChatGPT applies its default for {METHOD} "
         "({default}); set it explicitly"),
    Rule("consequential-type", ERROR, DOC, checks.consequential,
         "x-openai-isConsequential is a boolean", START,
         "x-openai-isConsequential is {value}; it must be the boolean true or false"),
    Rule("consequential-false", WARNING, DOC, checks.consequential,
         "only GET operations have x-openai-isConsequential: false", START,
         'x-openai-isConsequential is false on a {METHOD}, so users can "Always allow" this '
         "change without confirming it; make sure that is safe"),
    # Parameters and bodies.
    Rule("parameter-ref", WARNING, ONE, checks.parameters,
         "parameters are inline, not $refs", FACTS_SCHEMAS,
         "parameter is a $ref ({ref}); ChatGPT does not resolve these (\"has missing or "
         'non-string name; skipping"), write the parameter inline'),
    Rule("duplicate-parameter", ERROR, OAS, checks.parameters,
         "no parameter list holds a name and location twice", f"{OAS_31}#operation-object",
         "parameter {name} in {location} is listed twice; parameters must be unique by name and "
         "location"),
    Rule("duplicate-parameter:locations", WARNING, ONE, checks.parameters,
         "an operation's parameter names are unique across locations", FACTS_SCHEMAS,
         "parameter {name} is in both {first} and {location}; ChatGPT skips the operation "
         '("parameter {raw_name} is duplicated; skipping function due to errors")'),
    Rule("header-parameter", ERROR, DOC, checks.parameters,
         "no header parameters (custom headers are not supported)", PROD,
         'header parameter {name}: "Custom headers are not supported"; ChatGPT ignores it '
         "(credentials come from the Authentication dialog)"),
    Rule("cookie-parameter", WARNING, INF, checks.parameters, "no cookie parameters",
         FACTS_SCHEMAS, "cookie parameter {name}: ChatGPT sends no cookies"),
    Rule("field-name", WARNING, COMM, checks.field_names,
         "request body field names have no white space", FACTS_KWARGS,
         "field name {name} has white space; the model fails to send it (UnrecognizedKwargsError)"),
    Rule("field-name:parameter", WARNING, COMM, checks.field_names,
         "parameter names have no white space", FACTS_KWARGS,
         "parameter name {name} has white space; the model fails to send such arguments "
         "(UnrecognizedKwargsError)"),
    Rule("request-body-json", WARNING, COMM, checks.media_types,
         "request bodies are application/json", FACTS_SCHEMAS,
         "request body is {media}; ChatGPT sends only application/json bodies (multipart "
         "uploads arrive without the file; use openaiFileIdRefs)"),
    Rule("media-type", ERROR, DOC, checks.media_types,
         "no image or video request or response content", PROD,
         '{kind} content: "Requests and responses can only contain text (no images or video)"; '
         "return files through openaiFileResponse"),
    Rule("free-form-input", WARNING, COMM, checks.free_form_input,
         "request body schemas declare every property (no additionalProperties)", FACTS_KWARGS,
         "request field accepts undeclared properties; the model then sends fields ChatGPT "
         "rejects (UnrecognizedKwargsError), declare every property"),
    # Security.
    Rule("security-schemes-count", WARNING, COMM, checks.security,
         "at most one security scheme", FACTS_SECURITY,
         '{count} security schemes ({names}); ChatGPT supports one ("Found multiple security '
         'schemes, only 1 is supported")'),
    Rule("security-undefined", ERROR, OAS, checks.security,
         "security requirements name defined schemes", f"{OAS_31}#security-requirement-object",
         "security scheme {name} is not defined in components.securitySchemes"),
    Rule("security-scheme-type", ERROR, UI, checks.security_schemes,
         "no OpenID Connect or mutual TLS schemes", FACTS_AUTH,
         "{type} is not one ChatGPT can use" + OFFERED),
    Rule("security-scheme-type:apikey", ERROR, UI, checks.security_schemes,
         "API keys are sent in a header", FACTS_AUTH,
         "API key in {location}; ChatGPT sends API keys only in a header" + OFFERED),
    Rule("security-scheme-type:http", ERROR, UI, checks.security_schemes,
         "http schemes are Basic or Bearer", FACTS_AUTH,
         "http scheme {scheme} is not one ChatGPT can send" + OFFERED),
    Rule("oauth-flow", WARNING, ONE, checks.security_schemes,
         "OAuth has no flow but the authorization code flow", FACTS_OAUTH,
         "ChatGPT's OAuth is the authorization code grant only; drop {others}"),
    Rule("oauth-flow:missing", WARNING, ONE, checks.security_schemes,
         "OAuth has the authorization code flow", FACTS_OAUTH,
         "ChatGPT's OAuth is the authorization code grant only; add it"),
    Rule("oauth-domain", ERROR, DOC, checks.security_schemes,
         "OAuth URLs are on the server's domain (Google, Microsoft, Adobe exempt)", PROD,
         "{key} host {host} is not on the server's domain {server}; OAuth must use the API's "
         "domain (only Google, Microsoft and Adobe are exempt)"),
    Rule("oauth-domain:subdomain", WARNING, INF, checks.security_schemes,
         "OAuth URLs are on the server's host, not another sub-domain of its domain", FACTS_OAUTH,
         "{key} host {host} differs from the server host {server}; sub-domains of one domain are "
         "commonly assumed to work, but OpenAI asks for the same domain"),
    # References.
    Rule("external-ref", WARNING, INF, checks.refs, "$refs point inside the document",
         FACTS_SCHEMAS,
         "$ref {ref} points outside the document; ChatGPT imports one document, so put what it "
         "refers to under components"),
    Rule("unresolved-ref", ERROR, OAS, checks.refs, "local $refs point to something",
         f"{OAS_31}#reference-object", "$ref {ref} points to nothing in this document"),
    Rule("circular-ref", WARNING, ONE, checks.circular_refs,
         "component schemas do not refer to themselves", FACTS_SCHEMAS,
         "schemas refer to themselves ({cycle}); ChatGPT refuses this (\"Components section "
         'contains a circular dependency"), flatten or cut the cycle'),
    # Schemas, every one and every one nested in it.
    Rule("object-properties", WARNING, COMM, checks.object_properties,
         "object schemas declare properties", FACTS_SCHEMAS,
         'object schema without properties; ChatGPT warns ("object schema missing properties") '
         "and the model cannot send undeclared fields"),
    Rule("object-properties:empty", WARNING, COMM, checks.object_properties,
         "object schemas declare at least one property", FACTS_SCHEMAS,
         "object schema whose properties map is empty; ChatGPT reads it as an object without "
         'properties ("object schema missing properties"), whatever additionalProperties says; '
         "declare its properties, or use an array of objects that have them"),
    Rule("empty-enum", WARNING, ONE, checks.empty_enum, "no enum is empty", FACTS_IMPORT,
         "enum is empty; ChatGPT's importer rejects it (\"List should have at least 1 item\"), "
         "list the values or drop enum"),
    Rule("empty-items", WARNING, ONE, checks.empty_items, "items is not {}", FACTS_SCHEMAS,
         "items is {{}}; ChatGPT's importer is reported to fail on it, give the item type"),
    Rule("empty-items:missing", WARNING, ONE, checks.empty_items,
         "array schemas give their item type", FACTS_SCHEMAS,
         "array schema without items; ChatGPT's importer is reported to fail on unconstrained "
         "schemas, give the item type"),
    Rule("anyof-null", WARNING, ONE, checks.anyof_null,
         'nullable uses type: [<type>, "null"], not anyOf/oneOf with {type: null}', FACTS_SCHEMAS,
         "{keyword} with a {{type: null}} member; reported to break ChatGPT's importer, write "
         'type: [<type>, "null"] instead'),
    Rule("ref-siblings", WARNING, ONE, checks.ref_siblings,
         "$ref has no oneOf/anyOf/allOf beside it", FACTS_SCHEMAS,
         "$ref next to oneOf/anyOf/allOf; reported to break ChatGPT's importer, wrap them in allOf "
         "or pick one"),
    Rule("pattern-properties", WARNING, ONE, checks.pattern_properties,
         "no patternProperties", FACTS_SCHEMAS,
         "patternProperties are reported to break ChatGPT's importer and the model cannot fill "
         "them; declare explicit properties"),
    Rule("file-id-refs", ERROR, DOC, checks.file_fields,
         "openaiFileIdRefs is an array of strings", f"{START} (sending files)",
         "openaiFileIdRefs must be declared as an array of strings"),
    Rule("file-response", ERROR, DOC, checks.file_fields,
         "openaiFileResponse is an array", f"{START} (returning files)",
         "openaiFileResponse must be an array (of files or URLs)"),
    # Validity.
    Rule("schema-valid", ERROR, OAS, checks.schema_valid,
         "every schema is valid JSON Schema 2020-12 (OpenAPI 3.1)", SCHEMA_2020,
         "invalid JSON Schema: {error}"),
    Rule("openapi-valid", ERROR, OAS, checks.openapi_valid,
         "openapi-spec-validator accepts the document", OAS_31, "{error}"),
    Rule("openapi-valid:stopped", ERROR, OAS, checks.openapi_valid,
         "openapi-spec-validator can check the document to the end", OAS_31,
         "openapi-spec-validator stopped: {reason}"),
    Rule("openapi-valid:more", ERROR, OAS, checks.openapi_valid,
         "openapi-spec-validator accepts the document (errors past the first 50)", OAS_31,
         "{count} more validation errors not shown"),
)  # fmt: skip

RULES: dict[str, Rule] = {rule.key: rule for rule in TABLE}
