"""What a declaration gives a resource: its route, its place in the spec, its errors."""

from __future__ import annotations

import marshmallow as ma
import pytest
import sqlalchemy as sa

from app import resources
from app.extensions import db
from app.models import User
from app.operations import Conflict, Invalid, Resource


class EchoSchema(ma.Schema):
    word = ma.fields.String(required=True, metadata={"description": "A word."})


class WordSchema(ma.Schema):
    word = ma.fields.String(metadata={"description": "The word."})
    owner = ma.fields.String(metadata={"description": "Who asked."})


echoes = Resource(
    "echoes",
    description="Words said back.",
    scopes={"echoes:use": "Hear your words back"},
    stored="nothing",
)


@echoes.operation(
    "GET",
    "/echoes/open",
    operation_id="openEcho",
    consequential=False,
    scopes=[],
    response=WordSchema(),
)
def open_echo(caller: User | None) -> dict:
    """Say hello to anyone

    Answers without credentials.
    """
    return {"word": "hello", "owner": caller.email if caller else None}


@echoes.operation(
    "POST",
    "/echoes",
    operation_id="addEcho",
    consequential=True,
    scopes=["echoes:use"],
    arguments=EchoSchema(),
    response=WordSchema(),
    errors={400: "A word that cannot be said", 409: "A word said before"},
)
def add_echo(caller: User, *, word: str) -> dict:
    """Say a word back

    Answers with the word.
    """
    if word == "again":
        raise Conflict("That word was said before.")
    if not word.isalpha():
        raise Invalid("Only letters can be said back.", field="word")
    return {"word": word, "owner": caller.email}


@echoes.operation(
    "GET",
    "/echoes/lookup",
    operation_id="lookUpEcho",
    consequential=False,
    scopes=["echoes:use"],
    arguments=EchoSchema(),
    location="query",
    response=WordSchema(),
)
def look_up_echo(caller: User, *, word: str) -> dict:
    """Look a word up

    Fails in the database, with the word as the statement's parameter: as a number where it
    is one (PostgreSQL: out of the integer range), else in a table that does not exist.
    """
    if word.isdigit():
        db.session.execute(sa.select(sa.cast(sa.bindparam("word", int(word)), sa.Integer)))
    db.session.execute(sa.text("SELECT word FROM no_such_table WHERE word = :word"), {"word": word})
    return {"word": word, "owner": caller.email}


@pytest.fixture(params=["oauth"])
def app_settings(request, monkeypatch) -> dict:
    # Set before the app is built, which reads the resources; undone after it is torn down.
    monkeypatch.setattr(resources, "RESOURCES", (*resources.RESOURCES, echoes))
    return {"ACTION_AUTH": request.param}


@pytest.fixture
def token(app, auth_headers) -> dict[str, str]:
    return auth_headers("echoes:use", email="echo@example.com", via="token")


@pytest.mark.parametrize("app_settings", ["oauth", "apikey", "none"], indirect=True)
def test_an_operation_without_scopes_is_published_and_served_without_credentials(
    client, app_settings
):
    operation = client.get("/openapi.json").json["paths"]["/echoes/open"]["get"]

    assert operation["operationId"] == "openEcho"
    assert {"401", "403"}.isdisjoint(operation["responses"])
    answer = client.get("/echoes/open")
    assert answer.status_code == 200
    if app_settings["ACTION_AUTH"] == "none":
        # No security at all in the spec, and every caller the shared demo user.
        assert "security" not in operation
        assert answer.json == {"word": "hello", "owner": "demo@demo.invalid"}
    else:
        # Without a credential there is no user: the work function decides what that means.
        assert operation["security"] == []
        assert answer.json == {"word": "hello", "owner": None}


MCP_HEADERS = {"Accept": "application/json", "MCP-Protocol-Version": "2025-06-18"}
CLIENT = {"name": "test", "version": "1"}


def rpc(client, method: str, params: dict | None = None, headers: dict | None = None):
    message = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        message["params"] = params
    return client.post("/mcp", json=message, headers={**MCP_HEADERS, **(headers or {})})


def test_with_a_public_operation_mcp_serves_callers_without_a_token(client):
    """As ChatGPT's apps with mixed auth expect: a client without a token initializes, lists
    the tools and calls the public ones; a protected one answers with the sign-in challenge
    as a tool error, from which ChatGPT offers to sign in."""
    handshake = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": CLIENT}
    assert rpc(client, "initialize", handshake).status_code == 200
    listed = rpc(client, "tools/list")
    assert listed.status_code == 200
    tools = {t["name"]: t for t in listed.json["result"]["tools"]}
    assert tools["open_echo"]["_meta"]["securitySchemes"] == [{"type": "noauth"}]
    assert tools["add_echo"]["_meta"]["securitySchemes"][0]["type"] == "oauth2"

    opened = rpc(client, "tools/call", {"name": "open_echo", "arguments": {}}).json["result"]
    assert opened["structuredContent"] == {"word": "hello", "owner": None}

    refused = rpc(client, "tools/call", {"name": "add_echo", "arguments": {"word": "hi"}})
    result = refused.json["result"]
    assert result["isError"] is True
    assert result["structuredContent"]["code"] == 401
    [challenge] = result["_meta"]["mcp/www_authenticate"]
    assert 'resource_metadata="https://todo-action.test/.well-known/oauth-protected-resource' in (
        challenge
    )
    assert 'scope="echoes:use"' in challenge
    # Discovery goes on working for the sign-in that follows.
    assert client.get("/.well-known/oauth-protected-resource/mcp").status_code == 200


def test_a_declared_operation_carries_its_flag_scopes_and_errors_into_the_spec(client):
    spec = client.get("/openapi.json").json
    operation = spec["paths"]["/echoes"]["post"]

    assert operation["operationId"] == "addEcho"
    assert operation["x-openai-isConsequential"] is True
    assert operation["summary"] == "Say a word back"
    assert operation["security"] == [{"oauth": ["echoes:use"]}]
    assert {"400", "401", "403", "409", "422", "429"} <= set(operation["responses"])
    scopes = spec["components"]["securitySchemes"]["oauth"]["flows"]["authorizationCode"]
    assert scopes["scopes"]["echoes:use"] == "Hear your words back"


def test_domain_errors_become_the_api_envelope_with_their_status(client, token):
    said = client.post("/echoes", json={"word": "hello"}, headers=token)
    conflict = client.post("/echoes", json={"word": "again"}, headers=token)
    invalid = client.post("/echoes", json={"word": "two words"}, headers=token)

    assert said.json == {"word": "hello", "owner": "echo@example.com"}

    assert conflict.status_code == 409
    assert conflict.json == {
        "code": 409,
        "status": "Conflict",
        "message": "That word was said before.",
    }
    assert invalid.status_code == 400
    assert invalid.json["errors"] == [
        {"location": "json", "field": "word", "message": "Only letters can be said back."}
    ]


def test_a_scope_the_resource_does_not_declare_is_refused_at_declaration():
    with pytest.raises(ValueError, match="undeclared scopes"):
        echoes.operation(
            "GET",
            "/echoes/secret",
            operation_id="getSecret",
            consequential=False,
            scopes=["secrets:read"],
        )(open_echo)


def test_a_failed_statement_is_logged_without_the_request_data_in_it(app, client, token, caplog):
    # As in production: the error handlers answer, rather than the test client re-raising.
    app.config["PROPAGATE_EXCEPTIONS"] = False

    response = client.get("/echoes/lookup?word=Sesame7f3a", headers=token)

    assert response.status_code in (500, 503)
    assert response.json["code"] == response.status_code
    assert "no_such_table" in caplog.text
    assert "Sesame7f3a" not in caplog.text


def test_a_value_the_database_refuses_is_a_400(app, client, token, caplog):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite stores any integer it can bind")
    app.config["PROPAGATE_EXCEPTIONS"] = False

    response = client.get(f"/echoes/lookup?word={2**40}", headers=token)

    assert response.status_code == 400
    assert response.json["message"] == "A value in the request is out of range."
    assert str(2**40) not in caplog.text
