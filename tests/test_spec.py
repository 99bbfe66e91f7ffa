"""The served OpenAPI document: what ChatGPT's importer needs, per ACTION_AUTH, and the truth
about the responses the API really sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate as validate_openapi

from app.resources import all_operations, all_scopes
from app.spec.cli import CANONICAL_SETTINGS
from tests.conftest import TEST_PUBLIC_URL, build_app, spec_path

CHECKED_IN_SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


# What the resources declare (app/resources.py), by (method, path) as the spec has them.
DECLARED = {(op.method.lower(), spec_path(op.path)): op for _, op in all_operations()}
OPERATIONS = {key: op.operation_id for key, op in DECLARED.items()}
BY_ID = {op.operation_id: op for op in DECLARED.values()}


@pytest.fixture
def app_settings(request) -> dict:
    return getattr(request, "param", {})


def _operations(spec: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def _schemas_in(node, where="") -> Iterator[tuple[str, dict]]:
    """Every schema object in the document, with where it is."""
    if isinstance(node, dict):
        if "type" in node and not isinstance(node.get("type"), dict):
            yield where, node
        for key, value in node.items():
            yield from _schemas_in(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schemas_in(value, f"{where}/{i}")


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def test_spec_is_valid_openapi_3_1_with_one_server_the_public_url(spec):
    validate_openapi(spec)
    assert spec["openapi"] == "3.1.0"
    assert spec["servers"] == [{"url": TEST_PUBLIC_URL}]
    assert isinstance(spec["components"]["schemas"], dict) and spec["components"]["schemas"]


@pytest.mark.parametrize(
    ("app_settings", "server"),
    [
        ({"PUBLIC_URL": "https://Todo.Example.COM/"}, "https://todo.example.com"),
        ({"PUBLIC_URL": "https://example.com/api/v1/"}, "https://example.com/api/v1"),
    ],
    indirect=["app_settings"],
)
def test_server_is_the_public_url_as_chatgpt_compares_it(spec, server):
    assert spec["servers"] == [{"url": server}]


def test_spec_has_exactly_the_declared_operations(spec):
    found = {(method, path): op.get("operationId") for path, method, op in _operations(spec)}

    assert found == OPERATIONS
    assert len(found) <= 30


def test_only_action_paths_are_published(spec):
    assert set(spec["paths"]) == {path for _, path in OPERATIONS}
    for path in spec["paths"]:
        assert not path.startswith(("/docs", "/healthz", "/privacy", "/oauth", "/openapi"))


def test_consequential_flag_is_false_for_reads_and_true_for_changes(spec):
    for _, method, op in _operations(spec):
        assert op["x-openai-isConsequential"] is (method != "get"), op["operationId"]


def test_texts_fit_chatgpts_limits(spec):
    for _, _, op in _operations(spec):
        assert op["summary"].strip() and op["description"].strip()
        assert len(op["summary"]) <= 300
        assert len(op["description"]) <= 300
        for parameter in op.get("parameters", []):
            assert parameter["description"].strip()
            assert len(parameter["description"]) <= 700


def test_parameters_are_inline_and_never_headers(spec):
    for path, item in spec["paths"].items():
        assert "parameters" not in item, path
        for _, _, op in _operations({"paths": {path: item}}):
            for parameter in op.get("parameters", []):
                assert "$ref" not in parameter
                assert parameter["in"] in ("query", "path")
                assert parameter["schema"]["type"] in ("string", "integer", "boolean")
            names = [p["name"] for p in op.get("parameters", [])]
            assert len(names) == len(set(names))
            for response in op["responses"].values():
                assert "$ref" not in response


def test_every_object_schema_declares_properties(spec):
    objects = [
        (where, schema)
        for where, schema in _schemas_in(spec)
        if schema["type"] == "object" or "object" in schema["type"]
    ]

    assert objects
    for where, schema in objects:
        assert isinstance(schema.get("properties"), dict), where


def test_every_schema_reference_resolves(spec):
    schemas = spec["components"]["schemas"]
    text = yaml.safe_dump(spec)
    for name in schemas:
        assert f"#/components/schemas/{name}" in text, f"unused schema {name}"
    for line in text.splitlines():
        if "$ref" in line:
            ref = line.split("$ref:")[1].strip().strip("'\"")
            assert ref.startswith("#/components/schemas/")
            assert ref.removeprefix("#/components/schemas/") in schemas


def test_error_responses_are_documented_with_the_error_schema(spec):
    error = spec["components"]["schemas"]["Error"]
    assert {"code", "status", "message", "errors"} <= set(error["properties"])
    error_ref = {"$ref": "#/components/schemas/Error"}
    for _, _, op in _operations(spec):
        responses = op["responses"]
        documented = {code for code in responses if code == "default" or code.startswith("4")}
        assert "default" in documented, op["operationId"]
        for code in documented:
            assert responses[code]["content"]["application/json"]["schema"] == error_ref
        declared = BY_ID[op["operationId"]]
        for status in declared.errors:
            assert str(status) in documented, (op["operationId"], status)
        # Operations that read arguments can answer 422.
        if declared.arguments is not None:
            assert "422" in responses, op["operationId"]


def test_request_bodies_are_json_objects_with_declared_fields(spec):
    schemas = spec["components"]["schemas"]
    for _, _, op in _operations(spec):
        declared = BY_ID[op["operationId"]]
        if declared.arguments is None or declared.location != "json":
            assert "requestBody" not in op
            continue
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = schemas[ref.removeprefix("#/components/schemas/")]
        assert body["type"] == "object"
        assert body["additionalProperties"] is False
        assert body["properties"]


def test_yaml_and_json_serve_the_same_document(client, spec):
    response = client.get("/openapi.yaml")

    assert response.status_code == 200
    assert "yaml" in response.mimetype
    assert yaml.safe_load(response.get_data(as_text=True)) == spec


@pytest.mark.parametrize(
    ("app_settings", "scheme"),
    [
        (
            {"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "bearer"},
            {"type": "http", "scheme": "bearer"},
        ),
        (
            {"ACTION_AUTH": "apikey", "API_KEY_AUTH_TYPE": "basic"},
            {"type": "http", "scheme": "basic"},
        ),
        (
            {
                "ACTION_AUTH": "apikey",
                "API_KEY_AUTH_TYPE": "custom",
                "API_KEY_HEADER": "X-Todo-Key",
            },
            {"type": "apiKey", "in": "header", "name": "X-Todo-Key"},
        ),
    ],
    indirect=["app_settings"],
    ids=["bearer", "basic", "custom"],
)
def test_apikey_mode_declares_one_api_key_scheme(spec, scheme):
    schemes = spec["components"]["securitySchemes"]

    assert len(schemes) == 1
    [(name, declared)] = schemes.items()
    assert {k: v for k, v in declared.items() if k != "description"} == scheme
    for _, _, op in _operations(spec):
        assert "403" not in op["responses"]
        if not BY_ID[op["operationId"]].scopes:
            # An operation that needs no credential.
            assert op["security"] == [] and "401" not in op["responses"]
            continue
        assert op["security"] == [{name: []}]
        assert "401" in op["responses"]


@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": "oauth"}], indirect=True)
def test_oauth_mode_declares_one_authorization_code_scheme_under_the_public_url(spec):
    schemes = spec["components"]["securitySchemes"]

    assert len(schemes) == 1
    [(name, scheme)] = schemes.items()
    assert scheme["type"] == "oauth2"
    assert list(scheme["flows"]) == ["authorizationCode"]
    flow = scheme["flows"]["authorizationCode"]
    urls = [flow["authorizationUrl"], flow["tokenUrl"], flow.get("refreshUrl", flow["tokenUrl"])]
    assert all(url.startswith(TEST_PUBLIC_URL + "/") for url in urls), urls
    assert flow["scopes"] == all_scopes()
    for _, _, op in _operations(spec):
        scopes = list(BY_ID[op["operationId"]].scopes)
        if not scopes:
            # An operation that needs no credential.
            assert op["security"] == [] and not {"401", "403"} & set(op["responses"])
            continue
        assert op["security"] == [{name: scopes}], op["operationId"]
        assert {"401", "403"} <= set(op["responses"])


@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": "none"}], indirect=True)
def test_none_mode_declares_no_security(spec):
    assert "securitySchemes" not in spec["components"]
    assert "security" not in spec
    for _, _, op in _operations(spec):
        assert not op.get("security")
        assert "401" not in op["responses"] and "403" not in op["responses"]


def test_checked_in_spec_is_what_the_canonical_app_serves(database_url):
    served = build_app(database_url, **CANONICAL_SETTINGS).test_client().get("/openapi.json")

    checked_in = yaml.safe_load(CHECKED_IN_SPEC.read_text(encoding="utf-8"))

    assert checked_in == served.json, (
        "openapi/openapi.yaml is out of date: run `make spec` and commit it"
    )


@pytest.mark.parametrize(
    "app_settings", [{"ACTION_AUTH": "none", "PUBLIC_URL": "https://elsewhere.test"}], indirect=True
)
def test_spec_export_writes_the_canonical_spec_whatever_the_apps_settings(
    app, database_url, tmp_path
):
    target = tmp_path / "openapi.yaml"

    result = app.test_cli_runner().invoke(args=["spec", "export", "-o", str(target)])

    assert result.exit_code == 0, result.output
    canonical = build_app(database_url, **CANONICAL_SETTINGS).test_client().get("/openapi.json")
    assert yaml.safe_load(target.read_text(encoding="utf-8")) == canonical.json


# ---------------------------------------------------------------------------------------------
# Real responses against the served spec, for every declared operation. The responses of each
# resource's own successes and errors are checked in its tests (tests/test_todos.py).

# No row of any resource has this id; the work function answers 404 for it.
UNKNOWN_ID = "987654"


def _url(path: str) -> str:
    return re.sub(r"\{\w+\}", UNKNOWN_ID, path)


@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": "oauth"}], indirect=True)
@pytest.mark.parametrize(("method", "path"), list(OPERATIONS), ids=list(OPERATIONS.values()))
def test_unauthenticated_responses_match_the_spec(client, check_against_spec, method, path):
    if not DECLARED[(method, path)].scopes:
        pytest.skip("an operation that needs no credential")

    response = client.open(
        _url(path),
        method=method.upper(),
        json={} if method in ("post", "patch", "put") else None,
    )

    assert response.status_code == 401
    check_against_spec(response)


@pytest.mark.parametrize("app_settings", [{"ACTION_AUTH": "oauth"}], indirect=True)
@pytest.mark.parametrize(("method", "path"), list(OPERATIONS), ids=list(OPERATIONS.values()))
@pytest.mark.parametrize("via", ["key", "token"])
def test_a_credential_without_the_operations_scope_gets_403(
    client, auth_headers, check_against_spec, method, path, via
):
    operation = DECLARED[(method, path)]
    others = [scope for scope in all_scopes() if scope not in operation.scopes]
    if not operation.scopes or not others:
        pytest.skip("no credential can lack the scopes this operation needs")

    response = client.open(
        _url(path), method=method.upper(), headers=auth_headers(*others, via=via)
    )

    assert response.status_code == 403, response.json
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    check_against_spec(response)


def _bad_requests(operation) -> list[tuple[int, dict]]:
    """Requests every operation of its kind refuses before its work function runs, or, for
    one without arguments, that its work function refuses: (status, request arguments)."""
    if operation.arguments is None:
        return [(404, {})] if 404 in operation.errors else []
    if operation.location != "json":
        return []
    return [
        (400, {"data": "{", "content_type": "application/json"}),
        (413, {"json": {"padding": "x" * 300_000}}),
        (415, {"data": "text", "content_type": "text/plain"}),
        # Unknown fields are an error (marshmallow's RAISE), not silently dropped.
        (422, {"json": {"no_such_field": 1}}),
    ]


@pytest.mark.parametrize(("method", "path"), list(OPERATIONS), ids=list(OPERATIONS.values()))
def test_bad_requests_get_the_documented_errors(
    client, auth_headers, check_against_spec, method, path
):
    headers = auth_headers()
    for status, kwargs in _bad_requests(DECLARED[(method, path)]):
        response = client.open(_url(path), method=method.upper(), headers=headers, **kwargs)

        assert response.status_code == status, (status, response.get_data(as_text=True)[:300])
        check_against_spec(response)
