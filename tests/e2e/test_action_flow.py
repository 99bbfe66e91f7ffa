"""A GPT builder's and ChatGPT's view of a deployed server, over HTTP, with ACTION_AUTH=none."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from app.config import slug
from app.resources import all_operations
from gpt_action_lint import is_error, lint
from tests.conftest import spec_path
from tests.e2e.chatgpt import GPT_HEADERS
from tests.e2e.conftest import E2E_PUBLIC_URL, Server

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# What the GPT editor lists after "Import from URL" (README, The GPT action): every operation
# the resources declare.
EXPECTED_ACTIONS = {
    (op.operation_id, op.method, spec_path(op.path), op.consequential) for _, op in all_operations()
}


def list_actions(spec: dict) -> set[tuple[str, str, str, bool]]:
    """(name, method, path, consequential) per operation, as the GPT editor shows them; an
    absent x-openai-isConsequential means false for GET and true otherwise."""
    actions = set()
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                op = item[method]
                consequential = op.get("x-openai-isConsequential", method != "get")
                actions.add((op["operationId"], method.upper(), path, consequential))
    return actions


def lint_for_gpt(spec: dict) -> None:
    """No error from the project's GPT-rules linter; warnings (rules known only from builder
    reports) are its own tests' business. The importer rules that matter most for this test
    are also asserted directly below, so a failure names them."""
    errors = [problem.line() for problem in lint(spec) if is_error(problem)]
    assert not errors, "\n".join(errors)
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    assert spec["servers"] == [{"url": E2E_PUBLIC_URL}]
    assert isinstance(spec["components"]["schemas"], dict)
    operations = [item[m] for item in spec["paths"].values() for m in HTTP_METHODS if m in item]
    assert len(operations) <= 30
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", op["operationId"]) for op in operations)


def test_builder_imports_the_spec_by_url_and_sees_every_declared_action(server: Server):
    response = server.client.get(f"{server.url}/openapi.json")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    spec = response.json()
    lint_for_gpt(spec)
    assert list_actions(spec) == EXPECTED_ACTIONS
    # ACTION_AUTH=none: the editor's Authentication stays "None".
    assert "security" not in spec
    assert not spec["components"].get("securitySchemes")


def test_errors_reach_chatgpt_as_json(server: Server):
    response = server.client.post(f"{server.url}/todos", json={"title": ""})

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == 422
    assert {"location": "json", "field": "title"}.items() <= body["errors"][0].items()


def test_health_check_privacy_page_and_request_ids(server: Server):
    client, url = server.client, server.url

    response = client.get(f"{url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}

    response = client.get(f"{url}/privacy")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "privacy" in response.text.lower()

    generated = {client.get(f"{url}/healthz").headers["X-Request-ID"] for _ in range(3)}
    assert len(generated) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in generated)

    # A router's id is kept, so its log and the app's can be matched; junk is not.
    kept = client.get(f"{url}/todos", headers={"X-Request-ID": "router-abc.123_x"})
    assert kept.headers["X-Request-ID"] == "router-abc.123_x"
    junk = client.get(f"{url}/todos", headers={"X-Request-ID": "x" * 500})
    assert re.fullmatch(r"[0-9a-f]{32}", junk.headers["X-Request-ID"])
    missing = client.get(f"{url}/no-such-page")
    assert missing.status_code == 404 and missing.headers["X-Request-ID"]


def test_access_log_has_request_and_gpt_ids_but_no_credentials(server: Server):
    secret_token = "sk-e2e-secret-token-value-0123456789"
    oauth_code = "e2e-oauth-code-0123456789"
    response = server.client.get(
        f"{server.url}/healthz",
        params={"code": oauth_code, "state": "e2e-state-value"},
        headers={
            **GPT_HEADERS,
            "X-Request-ID": "e2e-log-check-1",
            "Authorization": f"Bearer {secret_token}",
            "Cookie": f"{slug()}_session=e2e-cookie-value",
        },
    )
    assert response.status_code == 200

    line = server.wait_for_log("request_id=e2e-log-check-1")
    assert f"gpt={GPT_HEADERS['openai-gpt-id']}" in line
    assert f"conversation={GPT_HEADERS['openai-conversation-id']}" in line
    assert '"GET /healthz HTTP/1.1" 200' in line
    # The app, not gunicorn, trusted the router's X-Forwarded-*: gunicorn is set to trust none.
    assert line.startswith("203.0.113.7 ") and "scheme=https" in line
    log = server.log()
    for secret in (secret_token, oauth_code, "e2e-state-value", "e2e-cookie-value"):
        assert secret not in log


def test_what_a_client_sends_cannot_forge_or_flood_access_log_lines(server: Server):
    forged = '203.0.113.9 [29/Nov/2026:00:00:00 +0000] "GET /admin HTTP/1.1" 200'
    response = server.client.get(
        # %0D%0A reaches the log as a line break: gunicorn logs the percent-decoded path.
        f"{server.url}/healthz%0D%0A{forged.replace(' ', '%20')}",
        headers={
            "X-Request-ID": "e2e-log-clean-1",
            "openai-gpt-id": "g-" + "x" * 6000,
            # Bytes 0x80-0xFF pass gunicorn's header check; 0x9B is a terminal's CSI.
            "openai-conversation-id": "conv\x85\x9b31mred",
            "User-Agent": "agent " + "y" * 6000,
        },
    )
    assert response.status_code == 404

    line = server.wait_for_log("request_id=e2e-log-clean-1")
    assert not [other for other in server.log().splitlines() if other.startswith(forged[:12])]
    assert "/healthz\\x0d\\x0a203.0.113.9" in line
    assert "conversation=conv\\x85\\x9b31mred" in line
    assert not {"\x85", "\x9b", "\r"} & set(line)
    assert len(line) < 1200


def test_without_the_router_headers_the_app_sees_plain_http(server: Server):
    response = server.client.get(
        f"{server.url}/healthz",
        headers={"X-Forwarded-Proto": None, "X-Forwarded-For": None, "X-Request-ID": "direct-1"},
    )
    assert response.status_code == 200

    line = server.wait_for_log("request_id=direct-1")
    assert line.startswith("127.0.0.1 ") and "scheme=http " in line
    assert "gpt=- conversation=-" in line


def test_pages_behind_the_router_pin_https_and_refuse_framing(server: Server):
    page = server.client.get(f"{server.url}/privacy")
    direct = server.client.get(f"{server.url}/privacy", headers={"X-Forwarded-Proto": None})

    assert "max-age=" in page.headers["Strict-Transport-Security"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    # Plain http, as a health check inside the platform sends: nothing to pin.
    assert "Strict-Transport-Security" not in direct.headers
