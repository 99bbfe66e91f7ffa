"""The five todo actions as a GPT calls them: what they answer and what they change."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import User
from app.todos.models import Todo
from tests.factories import make_todo, make_user

TODO_KEYS = {"id", "title", "notes", "done", "due", "created_at", "updated_at"}
# ChatGPT refuses a response of 100,000 characters or more.
RESPONSE_LIMIT = 100_000


def _add_todos(app, titles, **fields) -> list[int]:
    """Todos of Ada's, the `api` fixture's user, written to the database in the order given."""
    with app.app_context():
        owner = db.session.scalar(sa.select(User).where(User.email == "ada@example.com"))
        return [make_todo(owner, title, **fields).id for title in titles]


def _all_pages(api, **params) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = api.get("/todos", query_string=query)
        assert response.status_code == 200, response.json
        pages.append(response.json["todos"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 200, "pagination does not end"


def test_add_todo_answers_201_with_the_stored_todo(api):
    response = api.post(
        "/todos", json={"title": "  Buy milk  ", "notes": "2 litres", "due": "2030-01-31"}
    )

    assert response.status_code == 201
    todo = response.json
    assert set(todo) == TODO_KEYS
    assert todo["title"] == "Buy milk"
    assert (todo["notes"], todo["done"], todo["due"]) == ("2 litres", False, "2030-01-31")
    assert api.get(f"/todos/{todo['id']}").json == todo


def test_add_todo_with_only_a_title_has_empty_notes_and_no_due_date(api):
    todo = api.post("/todos", json={"title": "Call Ada"}).json

    assert (todo["notes"], todo["due"], todo["done"]) == ("", None, False)


@pytest.mark.parametrize("title", ["x" * 500, "é" * 500, "😀" * 500, " " * 20 + "y" * 500])
def test_titles_up_to_500_characters_are_kept_whole(api, title):
    response = api.post("/todos", json={"title": title})

    assert response.status_code == 201
    assert api.get(f"/todos/{response.json['id']}").json["title"] == title.strip()


def test_notes_keep_line_breaks_and_tabs(api):
    notes = "line one\nline two\r\n\tindented"
    todo = api.post("/todos", json={"title": "t", "notes": notes}).json

    assert api.get(f"/todos/{todo['id']}").json["notes"] == notes


def test_get_todos_lists_open_todos_oldest_first_as_raw_data(api):
    ids = [api.post("/todos", json={"title": f"todo {i}"}).json["id"] for i in range(3)]

    response = api.get("/todos")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert set(response.json) == {"todos", "next_cursor"}
    assert [t["id"] for t in response.json["todos"]] == ids
    assert response.json["next_cursor"] is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [(None, ["open"]), ("open", ["open"]), ("done", ["done"]), ("all", ["open", "done"])],
)
def test_status_filter(api, status, expected):
    api.post("/todos", json={"title": "open"})
    done_id = api.post("/todos", json={"title": "done"}).json["id"]
    api.patch(f"/todos/{done_id}", json={"done": True})

    query = {"status": status} if status else {}
    titles = [t["title"] for t in api.get("/todos", query_string=query).json["todos"]]

    assert titles == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("milk", ["Buy milk", "Oat MILK"]),
        ("MILK", ["Buy milk", "Oat MILK"]),
        ("litre", ["Call the dairy"]),
        ("%", ["100% done"]),
        ("100%", ["100% done"]),
        ("_", ["snake_case"]),
        ("e_c", ["snake_case"]),
        ("/", ["either/or"]),
        ("\\", ["back\\slash"]),
        ("brûlée", ["Crème BRÛLÉE"]),
        ("МОЛОКО", ["Купить молоко"]),
        ("nothing like this", []),
    ],
)
def test_q_searches_title_and_notes_ignoring_case_in_any_script_with_literal_wildcards(
    api, q, expected
):
    for title, notes in [
        ("Buy milk", ""),
        ("Oat MILK", ""),
        ("Call the dairy", "two litres"),
        ("100% done", ""),
        ("100 percent", "x"),
        ("snake_case", ""),
        ("snakeXcase", ""),
        ("either/or", ""),
        ("back\\slash", ""),
        ("Crème BRÛLÉE", ""),
        ("Купить молоко", ""),
    ]:
        api.post("/todos", json={"title": title, "notes": notes})

    response = api.get("/todos", query_string={"q": q})

    assert response.status_code == 200
    assert [t["title"] for t in response.json["todos"]] == expected


def test_due_before_keeps_only_todos_due_earlier(api):
    api.post("/todos", json={"title": "early", "due": "2030-01-01"})
    api.post("/todos", json={"title": "on the day", "due": "2030-02-01"})
    api.post("/todos", json={"title": "late", "due": "2030-03-01"})
    api.post("/todos", json={"title": "no date"})

    todos = api.get("/todos", query_string={"due_before": "2030-02-01"}).json["todos"]

    assert [t["title"] for t in todos] == ["early"]


def test_filters_combine(api):
    api.post("/todos", json={"title": "milk soon", "due": "2030-01-01"})
    api.post("/todos", json={"title": "milk later", "due": "2031-01-01"})
    api.post("/todos", json={"title": "bread soon", "due": "2030-01-01"})

    todos = api.get("/todos?q=milk&due_before=2030-06-01&status=all").json["todos"]

    assert [t["title"] for t in todos] == ["milk soon"]


def test_limit_defaults_to_50_and_pages_cover_every_todo_once(api, app):
    ids = _add_todos(app, [f"todo {i}" for i in range(120)])

    first = api.get("/todos").json
    pages = _all_pages(api)

    assert len(first["todos"]) == 50
    assert first["next_cursor"]
    assert [len(page) for page in pages] == [50, 50, 20]
    assert [t["id"] for page in pages for t in page] == ids


@pytest.mark.parametrize("limit", [1, 7, 100])
def test_limit_sets_the_page_size(api, app, limit):
    ids = _add_todos(app, [f"todo {i}" for i in range(15)])

    pages = _all_pages(api, limit=limit)

    assert all(len(page) <= limit for page in pages)
    assert len(pages[0]) == min(limit, 15)
    assert [t["id"] for page in pages for t in page] == ids


def test_last_page_has_null_cursor_even_when_full(api, app):
    _add_todos(app, [f"todo {i}" for i in range(10)])

    pages = _all_pages(api, limit=5)

    assert [len(page) for page in pages] == [5, 5]


def test_cursor_is_opaque(api, app):
    _add_todos(app, [f"todo {i}" for i in range(3)])

    cursor = api.get("/todos?limit=1").json["next_cursor"]

    assert cursor.isascii() and "=" not in cursor and not cursor.isdigit()


def test_paging_has_no_duplicates_or_gaps_when_todos_change_between_pages(api, app):
    ids = _add_todos(app, [f"todo {i}" for i in range(9)])

    first = api.get("/todos?limit=3").json
    # Between pages: new todos arrive, one on a later page is deleted, one on the first page
    # (the one the cursor points at) is completed and one not yet seen is completed.
    added = [api.post("/todos", json={"title": f"new {i}"}).json["id"] for i in range(2)]
    api.delete(f"/todos/{ids[4]}")
    api.patch(f"/todos/{ids[2]}", json={"done": True})
    api.patch(f"/todos/{ids[6]}", json={"done": True})
    rest = _all_pages(api, limit=3, cursor=first["next_cursor"])

    seen = [t["id"] for t in first["todos"]] + [t["id"] for page in rest for t in page]
    expected_rest = [ids[3], ids[5], ids[7], ids[8], *added]
    assert seen == ids[:3] + expected_rest
    assert len(seen) == len(set(seen))


def test_a_cursor_survives_a_change_of_filter(api, app):
    _add_todos(app, [f"todo {i}" for i in range(4)])
    cursor = api.get("/todos?limit=2").json["next_cursor"]

    response = api.get("/todos", query_string={"cursor": cursor, "status": "all"})

    assert response.status_code == 200
    assert [t["title"] for t in response.json["todos"]] == ["todo 2", "todo 3"]


# Characters JSON writes as two (\" \\ \n \t \r) and characters a UTF-16 counter counts twice.
WORST_CASE_TEXT = {
    "json-escaped": ('"\\', '"\\\n\t\r'),
    "astral": ("😀", "𝄞"),
}


@pytest.mark.parametrize("kind", WORST_CASE_TEXT)
def test_pages_of_maximal_todos_stay_under_chatgpts_response_limit(api, kind):
    title_chars, note_chars = WORST_CASE_TEXT[kind]
    title = (title_chars * 500)[:500]
    notes = (note_chars * 5000)[:5000]
    ids = []
    for _ in range(100):
        response = api.post("/todos", json={"title": title, "notes": notes})
        assert response.status_code == 201
        ids.append(response.json["id"])

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 100, "status": "all", **({"cursor": cursor} if cursor else {})}
        response = api.get("/todos", query_string=query)
        text = response.get_data(as_text=True)
        assert len(text) < RESPONSE_LIMIT
        assert len(text.encode("utf-16-le")) // 2 < RESPONSE_LIMIT
        body = json.loads(text)
        assert body["todos"], "a page with todos left must not be empty"
        assert all(t["title"] == title and t["notes"] == notes for t in body["todos"])
        seen += [t["id"] for t in body["todos"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages > 1
    assert seen == ids


def test_single_maximal_todo_responses_stay_under_the_limit(api):
    todo = api.post("/todos", json={"title": '"' * 500, "notes": "\\" * 5000}).json

    for response in (
        api.get(f"/todos/{todo['id']}"),
        api.patch(f"/todos/{todo['id']}", json={"done": True}),
    ):
        assert response.status_code == 200
        assert len(response.get_data(as_text=True)) < RESPONSE_LIMIT


def test_get_todo_returns_one_todo(api):
    created = api.post("/todos", json={"title": "Read", "due": "2030-05-05"}).json

    response = api.get(f"/todos/{created['id']}")

    assert response.status_code == 200
    assert response.json == created


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"title": "  New title "}, {"title": "New title"}),
        ({"notes": "more detail"}, {"notes": "more detail"}),
        ({"notes": ""}, {"notes": ""}),
        ({"done": True}, {"done": True}),
        ({"due": "2031-12-24"}, {"due": "2031-12-24"}),
        ({"due": None}, {"due": None}),
        (
            {"title": "All", "notes": "n", "done": True, "due": "2032-01-01"},
            {"title": "All", "notes": "n", "done": True, "due": "2032-01-01"},
        ),
    ],
)
def test_update_todo_changes_only_the_given_fields(api, change, expected):
    before = api.post(
        "/todos", json={"title": "Old", "notes": "old notes", "due": "2030-01-01"}
    ).json

    response = api.patch(f"/todos/{before['id']}", json=change)

    assert response.status_code == 200
    after = response.json
    assert after == {**before, **expected, "updated_at": after["updated_at"]}
    assert after["updated_at"] >= before["updated_at"]
    assert api.get(f"/todos/{before['id']}").json == after


def test_done_todos_can_be_reopened(api):
    todo = api.post("/todos", json={"title": "t"}).json
    api.patch(f"/todos/{todo['id']}", json={"done": True})

    assert api.get("/todos").json["todos"] == []
    api.patch(f"/todos/{todo['id']}", json={"done": False})
    assert [t["id"] for t in api.get("/todos").json["todos"]] == [todo["id"]]


def test_delete_todo_answers_204_and_the_todo_is_gone(api):
    keep = api.post("/todos", json={"title": "keep"}).json
    gone = api.post("/todos", json={"title": "gone"}).json

    response = api.delete(f"/todos/{gone['id']}")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert api.get(f"/todos/{gone['id']}").status_code == 404
    assert api.delete(f"/todos/{gone['id']}").status_code == 404
    assert [t["id"] for t in api.get("/todos?status=all").json["todos"]] == [keep["id"]]


def test_another_users_todos_are_invisible_and_untouchable(api, app):
    with app.app_context():
        other = make_user("other@example.com")
        secret_id = make_todo(other, "not yours", due=date(2030, 1, 1)).id

    assert api.get("/todos?status=all").json["todos"] == []
    assert api.get("/todos?q=yours").json["todos"] == []
    for method, kwargs in [("GET", {}), ("PATCH", {"json": {"done": True}}), ("DELETE", {})]:
        response = api.open(f"/todos/{secret_id}", method=method, **kwargs)
        assert response.status_code == 404
        assert response.json["message"] == f"No todo with id {secret_id}."

    with app.app_context():
        stored = db.session.get(Todo, secret_id)
        assert (stored.title, stored.done) == ("not yours", False)


def test_the_spec_shows_the_todo_fields_and_the_cursor_error(api):
    spec = api.get("/openapi.json").json
    schemas = spec["components"]["schemas"]
    for method in ("post", "patch"):
        body = spec["paths"]["/todos" if method == "post" else "/todos/{todo_id}"][method]
        ref = body["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        fields = schemas[ref.removeprefix("#/components/schemas/")]["properties"]
        assert {"title", "notes", "due"} <= set(fields)
    assert "400" in spec["paths"]["/todos"]["get"]["responses"]


def test_every_todo_operation_answers_as_the_spec_says(api, check_against_spec):
    def call(method: str, path: str, status: int, **kwargs):
        response = api.open(path, method=method, **kwargs)
        assert response.status_code == status, response.get_data(as_text=True)[:300]
        return check_against_spec(response)

    first = call("POST", "/todos", 201, json={"title": "Buy milk", "due": "2030-01-01"}).json
    call("POST", "/todos", 201, json={"title": "Bake", "notes": "2 loaves"})
    todo_id = first["id"]
    page = call("GET", "/todos?limit=1", 200).json
    assert page["next_cursor"]
    last = call("GET", "/todos", 200, query_string={"cursor": page["next_cursor"]}).json
    assert last["next_cursor"] is None
    call("GET", "/todos?status=all&q=milk&due_before=2031-01-01", 200)
    call("GET", f"/todos/{todo_id}", 200)
    call("PATCH", f"/todos/{todo_id}", 200, json={"done": True, "due": None})
    call("DELETE", f"/todos/{todo_id}", 204)

    # The errors of the todos' own arguments; tests/test_spec.py sends every operation the
    # errors any operation of its kind can answer.
    call("GET", "/todos?limit=0", 422)
    call("GET", "/todos?cursor=bogus", 400)
    call("POST", "/todos", 422, json={"title": "", "extra": 1})
    call("GET", f"/todos/{todo_id}", 404)
    call("PATCH", f"/todos/{todo_id}", 404, json={"done": False})
    call("PATCH", f"/todos/{todo_id + 1}", 422, json={"done": "yes"})
    call("DELETE", f"/todos/{todo_id}", 404)
