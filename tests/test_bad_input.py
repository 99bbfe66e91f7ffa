"""Bad requests get a clear JSON error with the right 4xx, never a 500, and change nothing."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import User
from app.todos.models import Todo
from tests.browser import post_form

ERROR_KEYS = {"code", "status", "message", "errors"}
RESPONSE_LIMIT = 100_000


def _database_state(app) -> tuple:
    """Everything a request could have changed, in a form that compares by value."""
    with app.app_context():
        todos = db.session.execute(
            sa.select(
                Todo.id,
                Todo.owner_id,
                Todo.title,
                Todo.notes,
                Todo.done,
                Todo.due,
                Todo.created_at,
                Todo.updated_at,
            ).order_by(Todo.id)
        ).all()
        users = db.session.execute(sa.select(User.id, User.email).order_by(User.id)).all()
        return [tuple(row) for row in todos], [tuple(row) for row in users]


@pytest.fixture
def app_settings(request) -> dict:
    return getattr(request, "param", {})


@pytest.fixture
def todo(api) -> dict:
    """An existing todo, so that a failed change has something it could have damaged."""
    response = api.post("/todos", json={"title": "Existing", "notes": "keep me"})
    assert response.status_code == 201
    return response.json


def _assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) <= ERROR_KEYS
    assert body["code"] == status
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"].strip()
    if "errors" in body:
        # The documented shape: [{location, field, message}], field null for a whole location.
        assert isinstance(body["errors"], list) and body["errors"]
        for error in body["errors"]:
            assert set(error) == {"location", "field", "message"}, error
            assert error["location"] in ("json", "query", "path")
            assert error["field"] is None or (isinstance(error["field"], str) and error["field"])
            assert isinstance(error["message"], str) and error["message"]
    assert len(response.get_data(as_text=True)) < RESPONSE_LIMIT
    return body


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


JSON = "application/json"
DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"title":' + '{"a":' * 30_000 + "1" + "}" * 30_001


def post(status: int, named: str | None = None, **kwargs) -> tuple:
    return ("POST", "/todos", kwargs, status, named)


def patch(status: int, named: str | None = None, **kwargs) -> tuple:
    return ("PATCH", "/todos/{id}", kwargs, status, named)


def raw(data: str | bytes, content_type: str | None = JSON) -> dict:
    return {"data": data, "content_type": content_type} if content_type else {"data": data}


# name: (method, path, request kwargs, status, "location.field" the errors must name or None)
BAD_REQUESTS = {
    # The body is not JSON at all, or is broken JSON.
    "malformed json": post(400, **raw('{"title": ')),
    "malformed json patch": patch(400, **raw("{x}")),
    "invalid utf-8": post(400, **raw(b'{"title":"\xff"}')),
    "trailing garbage": post(400, **raw('{"title":"a"} x')),
    "deeply nested array": post(400, **raw(DEEP_ARRAY)),
    "deeply nested title": post(400, **raw(DEEP_OBJECT)),
    "deeply nested patch": patch(400, **raw(DEEP_ARRAY)),
    # Numbers Python's json would take, or fail on past its decoder: never a 500.
    "integer of 4301 digits": post(400, **raw('{"title": "x", "notes": ' + "9" * 4301 + "}")),
    "long integer in a list": post(400, **raw('{"title": "x", "n": [1, -' + "1" * 5000 + "]}")),
    "long integer as body": post(400, **raw("1" * 10_000)),
    "long integer patch": patch(400, **raw('{"done": ' + "7" * 4400 + "}")),
    "NaN": post(400, **raw('{"title": "x", "notes": NaN}')),
    "Infinity": patch(400, **raw('{"due": Infinity}')),
    "-Infinity": post(400, **raw('{"title": -Infinity}')),
    "float overflow": post(400, **raw('{"title": "x", "notes": 1e999}')),
    "plain text body": post(415, **raw("Buy milk", "text/plain")),
    "form body": post(415, data={"title": "Buy milk"}),
    "body without type": post(415, **raw('{"title": "x"}', None)),
    "plain text patch": patch(415, **raw("done", "text/plain")),
    # JSON of the wrong shape or types.
    "array body": post(422, "json._schema", json=[{"title": "x"}]),
    "string body": post(422, "json._schema", json="Buy milk"),
    "null body": post(422, "json._schema", **raw("null")),
    "missing title": post(422, "json.title", json={"notes": "n"}),
    "empty object": post(422, "json.title", json={}),
    "title number": post(422, "json.title", json={"title": 5}),
    "title object": post(422, "json.title", json={"title": {"text": "x"}}),
    "title null": patch(422, "json.title", json={"title": None}),
    "notes list": post(422, "json.notes", json={"title": "x", "notes": ["a"]}),
    "notes null": patch(422, "json.notes", json={"notes": None}),
    "done string": patch(422, "json.done", json={"done": "yes"}),
    "done 'true'": patch(422, "json.done", json={"done": "true"}),
    "done number": patch(422, "json.done", json={"done": 1}),
    "done null": patch(422, "json.done", json={"done": None}),
    "due number": post(422, "json.due", json={"title": "x", "due": 20300101}),
    "due impossible": post(422, "json.due", json={"title": "x", "due": "2030-02-30"}),
    "due datetime": patch(422, "json.due", json={"due": "2030-01-01T10:00:00"}),
    "due words": patch(422, "json.due", json={"due": "tomorrow"}),
    "due without dashes": post(422, "json.due", json={"title": "x", "due": "20300101"}),
    "due week date": patch(422, "json.due", json={"due": "2030-W01-1"}),
    "due one-digit month": patch(422, "json.due", json={"due": "2030-1-01"}),
    "due other digits": patch(422, "json.due", json={"due": "\u0662\u0660\u0663\u0660-01-01"}),
    "due trailing newline": patch(422, "json.due", json={"due": "2030-01-01\n"}),
    "unknown field": post(422, "json.priority", json={"title": "x", "priority": 1}),
    "read-only id": patch(422, "json.id", json={"id": 99}),
    "owner": patch(422, "json.owner_id", json={"owner_id": 2}),
    "created_at": patch(422, "json.created_at", json={"created_at": "2020-01-01T00:00:00Z"}),
    "empty patch": patch(422, "json._schema", json={}),
    # Text that is empty, too long or carries control characters.
    "empty title": post(422, "json.title", json={"title": ""}),
    "blank title": post(422, "json.title", json={"title": "   "}),
    "blank title patch": patch(422, "json.title", json={"title": " \u3000 "}),
    "title 501": post(422, "json.title", json={"title": "x" * 501}),
    "title 501 patch": patch(422, "json.title", json={"title": "é" * 501}),
    "notes 5001": post(422, "json.notes", json={"title": "x", "notes": "n" * 5001}),
    "title NUL": post(422, "json.title", json={"title": "a\x00b"}),
    "title escape": post(422, "json.title", json={"title": "a\x1b[31mb"}),
    "title newline": patch(422, "json.title", json={"title": "a\nb"}),
    "title DEL": post(422, "json.title", json={"title": "a\x7f"}),
    "title C1": post(422, "json.title", json={"title": "a\x85b"}),
    "title surrogate": post(422, "json.title", **raw('{"title": "a\\ud800"}')),
    "title leading newline": post(422, "json.title", json={"title": "\nBuy milk"}),
    "title trailing newline": patch(422, "json.title", json={"title": "Buy milk\n"}),
    "title trailing tab": post(422, "json.title", json={"title": "Buy milk\t"}),
    "title 501 between spaces": post(422, "json.title", json={"title": " " + "x" * 501 + " "}),
    "notes NUL": post(422, "json.notes", json={"title": "x", "notes": "\x00"}),
    "notes vertical tab": patch(422, "json.notes", json={"notes": "a\x0bb"}),
    # Query parameters of getTodos.
    "q NUL": ("GET", "/todos?q=a%00b", {}, 422, "query.q"),
    "q control": ("GET", "/todos?q=%1F", {}, 422, "query.q"),
    "q empty": ("GET", "/todos?q=", {}, 422, "query.q"),
    "q too long": ("GET", "/todos?q=" + "a" * 201, {}, 422, "query.q"),
    "limit 0": ("GET", "/todos?limit=0", {}, 422, "query.limit"),
    "limit 101": ("GET", "/todos?limit=101", {}, 422, "query.limit"),
    "limit negative": ("GET", "/todos?limit=-5", {}, 422, "query.limit"),
    "limit words": ("GET", "/todos?limit=ten", {}, 422, "query.limit"),
    "limit fraction": ("GET", "/todos?limit=1.5", {}, 422, "query.limit"),
    "limit huge": ("GET", "/todos?limit=" + "9" * 40, {}, 422, "query.limit"),
    "status unknown": ("GET", "/todos?status=closed", {}, 422, "query.status"),
    "unknown argument": ("GET", "/todos?stauts=done", {}, 422, "query.stauts"),
    "due_before bad": ("GET", "/todos?due_before=2030-13-01", {}, 422, "query.due_before"),
    "due_before week": ("GET", "/todos?due_before=2030W011", {}, 422, "query.due_before"),
    "due_before basic": ("GET", "/todos?due_before=20300101", {}, 422, "query.due_before"),
    "cursor garbage": ("GET", "/todos?cursor=not-a-cursor", {}, 400, "query.cursor"),
    "cursor empty": ("GET", "/todos?cursor=", {}, 400, "query.cursor"),
    "cursor padded": ("GET", "/todos?cursor=" + _cursor(b"v1:1") + "==", {}, 400, "query.cursor"),
    "cursor newline": ("GET", "/todos?cursor=" + _cursor(b"v1:1") + "%0A", {}, 400, "query.cursor"),
    "cursor spare bits": ("GET", "/todos?cursor=djE6MR", {}, 400, "query.cursor"),
    "cursor junk inside": ("GET", "/todos?cursor=djE6!MQ", {}, 400, "query.cursor"),
    "cursor NUL": ("GET", "/todos?cursor=%00", {}, 400, "query.cursor"),
    "cursor non-ascii": ("GET", "/todos?cursor=%C3%A9t%C3%A9", {}, 400, "query.cursor"),
    "cursor other version": ("GET", "/todos?cursor=" + _cursor(b"v2:1"), {}, 400, "query.cursor"),
    "cursor negative": ("GET", "/todos?cursor=" + _cursor(b"v1:-1"), {}, 400, "query.cursor"),
    "cursor not a number": ("GET", "/todos?cursor=" + _cursor(b"v1:1e3"), {}, 400, "query.cursor"),
    "cursor huge": ("GET", "/todos?cursor=" + _cursor(b"v1:" + b"9" * 30), {}, 400, "query.cursor"),
    "cursor bad utf-8": ("GET", "/todos?cursor=" + _cursor(b"v1:\xff"), {}, 400, "query.cursor"),
    # Todo ids that name no todo of the caller.
    "unknown id": ("GET", "/todos/987654", {}, 404, None),
    "unknown id patch": ("PATCH", "/todos/987654", {"json": {"done": True}}, 404, None),
    "unknown id delete": ("DELETE", "/todos/987654", {}, 404, None),
    "id zero": ("GET", "/todos/0", {}, 404, None),
    "id negative": ("DELETE", "/todos/-1", {}, 404, None),
    "id words": ("GET", "/todos/abc", {}, 404, None),
    "id fraction": ("PATCH", "/todos/1.5", {"json": {"done": True}}, 404, None),
    "id past int32": ("GET", "/todos/2147483648", {}, 404, None),
    "id huge": ("DELETE", "/todos/" + "9" * 40, {}, 404, None),
    "id huge patch": ("PATCH", "/todos/" + "9" * 40, {"json": {"done": True}}, 404, None),
    # Paths that do not exist.
    "unknown path": ("GET", "/nothing-here", {}, 404, None),
    "path under todo": ("GET", "/todos/{id}/notes", {}, 404, None),
    "singular path": ("POST", "/todo", {"json": {"title": "x"}}, 404, None),
    # Too large, refused by MAX_CONTENT_LENGTH before it is read.
    "oversized post": post(413, json={"title": "x" * 300_000}),
    "oversized patch": patch(413, json={"notes": "x" * 300_000}),
}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "named"),
    list(BAD_REQUESTS.values()),
    ids=list(BAD_REQUESTS),
)
def test_bad_request_gets_a_clear_error_and_changes_nothing(
    api, app, todo, method, path, kwargs, status, named
):
    before = _database_state(app)

    response = api.open(path.format(id=todo["id"]), method=method, **kwargs)

    body = _assert_error(response, status)
    if named:
        location, field = named.split(".")
        field = None if field == "_schema" else field
        assert (location, field) in {(e["location"], e["field"]) for e in body["errors"]}
        assert field is None or field in body["message"]
    assert _database_state(app) == before


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/todos/{id}", {"GET", "PATCH", "DELETE"}),
        ("POST", "/todos/{id}", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/todos", {"GET", "POST"}),
        ("PATCH", "/todos", {"GET", "POST"}),
        ("POST", "/openapi.json", {"GET"}),
    ],
)
def test_wrong_method_gets_405_with_allow(api, app, todo, method, path, allowed):
    before = _database_state(app)

    response = api.open(path.format(id=todo["id"]), method=method, json={"title": "x"})

    _assert_error(response, 405)
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}
    assert _database_state(app) == before


@pytest.mark.parametrize(
    ("app_settings", "size", "status"),
    [
        ({"MAX_CONTENT_LENGTH": "2048"}, 2049, 413),
        ({"MAX_CONTENT_LENGTH": "2048"}, 2048, 201),
        ({}, 256 * 1024 + 1, 413),
    ],
    indirect=["app_settings"],
)
def test_body_size_limit_follows_max_content_length(api, app, todo, size, status):
    # Notes are not length-checked before the size limit, so padding them is a fair filler.
    padding = size - len(json.dumps({"title": "t", "notes": ""}))
    body = json.dumps({"title": "t", "notes": " " * min(padding, 5000)})
    body = body[:-1] + " " * (size - len(body)) + "}"
    assert len(body.encode()) == size
    before = _database_state(app)

    response = api.post("/todos", data=body, content_type=JSON)

    assert response.status_code == status
    if status == 413:
        _assert_error(response, 413)
        assert _database_state(app) == before


def test_every_unknown_field_is_named(api, app, todo):
    before = _database_state(app)

    response = api.patch(f"/todos/{todo['id']}", json={"done": True, "color": 1, "tags": []})

    body = _assert_error(response, 422)
    assert {(e["location"], e["field"]) for e in body["errors"]} == {
        ("json", "color"),
        ("json", "tags"),
    }
    assert "color" in body["message"] and "tags" in body["message"]
    assert _database_state(app) == before


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x", **{f"f{i}": 1 for i in range(20_000)}},
        {"title": "x", "k" * 200_000: 1},
        {"title": "x", **{"k" * 5000 + str(i): 1 for i in range(40)}},
    ],
    ids=["many unknown fields", "one huge field name", "many long field names"],
)
def test_errors_that_echo_input_stay_under_the_response_limit(api, app, todo, body):
    before = _database_state(app)

    response = api.post("/todos", data=json.dumps(body), content_type=JSON)

    _assert_error(response, 422)
    assert _database_state(app) == before


WEIRD_VALUES = [
    None,
    True,
    0,
    -1,
    1.5,
    2**70,
    "",
    " ",
    "\x00",
    "😀",
    "x" * 6000,
    [],
    {},
    ["x"],
    {"title": "x"},
    "2030-02-30",
    "0000-01-01",
]


@pytest.mark.parametrize("field", ["title", "notes", "done", "due"])
def test_no_value_of_any_field_causes_a_server_error(api, app, todo, field):
    for value in WEIRD_VALUES:
        for method, path, body in [
            ("POST", "/todos", {"title": "ok", field: value}),
            ("PATCH", f"/todos/{todo['id']}", {field: value}),
        ]:
            before = _database_state(app)
            response = api.open(path, method=method, json=body)
            assert response.status_code < 500, (method, body, response.json)
            if response.status_code >= 400:
                _assert_error(response, response.status_code)
                assert _database_state(app) == before


@pytest.mark.parametrize("param", ["q", "status", "due_before", "limit", "cursor"])
def test_no_query_value_causes_a_server_error(api, param):
    for value in ["\x00", "%", "_", "😀", "x" * 200, "' OR 1=1 --", "\\", "-1", "9" * 30]:
        response = api.get("/todos", query_string={param: value})

        assert response.status_code in (200, 400, 422), (param, value)
        if response.status_code != 200:
            _assert_error(response, response.status_code)


@pytest.mark.parametrize("path", ["/account/keys/{id}/revoke", "/account/apps/{id}/disconnect"])
@pytest.mark.parametrize("id_", [2**31, 2**63, 10**30], ids=["int32+1", "int64+1", "30 digits"])
def test_page_ids_past_the_database_integer_range_are_404(app, user_browser, path, id_):
    before = _database_state(app)

    response = post_form(user_browser, path.format(id=id_), page="/account")

    assert response.status_code == 404
    assert _database_state(app) == before


@pytest.mark.parametrize("last_id", [2**31 - 1, 2**31, 2**40, 10**18 - 1])
def test_a_cursor_past_every_id_is_an_empty_last_page(api, todo, last_id, caplog):
    cursor = _cursor(f"v1:{last_id}".encode())

    response = api.get("/todos", query_string={"cursor": cursor, "q": "Secret words"})

    assert response.status_code == 200
    assert response.json == {"todos": [], "next_cursor": None}
    assert "Secret words" not in caplog.text
