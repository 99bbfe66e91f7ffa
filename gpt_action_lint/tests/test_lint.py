"""`lint` and `parse` on odd, broken and hostile input, and the lines they print."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

import gpt_action_lint
from gpt_action_lint import RULES, lint, parse
from gpt_action_lint.tests.helpers import found, good


def test_a_problem_line_names_severity_path_rule_and_source():
    doc = good()
    doc["paths"]["/notes"]["get"]["summary"] = "s" * 412
    (problem,) = lint(doc)
    assert problem.line() == (
        "error: $.paths['/notes'].get.summary: summary is 412 characters; ChatGPT allows at most "
        "300 [summary-length, OpenAI docs]"
    )
    assert problem.line(strict=True).startswith("error: ")


def test_keys_with_quotes_and_newlines_stay_on_one_line():
    doc = good()
    doc["paths"]["/it's\nhere"] = {"get": {"responses": {"200": {"description": "OK"}}}}
    lines = [p.line() for p in lint(doc) if p.rule == "operation-id-missing"]
    assert lines == [
        "warning: $.paths['/it\\'s\\nhere'].get: no operationId; ChatGPT drops the operation "
        '("In path /it\'s\\nhere, method get is missing operationId; skipping") '
        "[operation-id-missing, builder reports]"
    ]


def test_a_crashing_check_is_reported_and_the_others_still_run(monkeypatch):
    def broken(spec):
        raise ValueError("boom")
        yield

    broken_row = replace(RULES["servers"], check=broken)
    monkeypatch.setattr(gpt_action_lint, "TABLE", (broken_row, *gpt_action_lint.TABLE))
    doc = good()
    doc["paths"]["/notes"]["get"]["summary"] = "s" * 412
    lines = [p.line() for p in lint(doc)]
    assert lines[0] == (
        "error: $: check broken failed on this document: ValueError: boom [linter-internal, input]"
    )
    assert [line.split(": ")[1] for line in lines[1:]] == ["$.paths['/notes'].get.summary"]


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


def test_a_crashing_check_that_recurses_too_deeply_is_named(monkeypatch):
    def deep(spec):
        raise RecursionError
        yield

    deep_row = replace(RULES["servers"], check=deep)
    monkeypatch.setattr(gpt_action_lint, "TABLE", (deep_row, *gpt_action_lint.TABLE))
    (problem,) = lint(good())
    assert problem.line() == (
        "error: $: the document is nested too deeply to check (deep) [input-too-deep, input]"
    )


def test_a_document_nested_too_deeply_to_copy_is_refused():
    doc: dict[str, Any] = {}
    for _ in range(100_000):
        doc = {"a": doc}
    (problem,) = lint(doc)
    assert (
        problem.line()
        == "error: $: the document is nested too deeply to lint [input-too-deep, input]"
    )


@pytest.mark.parametrize("text", ["~", "# only a comment\n"])
def test_a_text_without_a_document_is_reported(text):
    document, problems = parse(text)
    assert document is None
    assert [p.line() for p in problems] == [
        "error: $: <input> holds no document [input-unparseable, input]"
    ]


def test_a_document_that_is_not_a_mapping_is_reported():
    assert found(lint(["openapi", "3.1.0"])) == {("openapi-document", "error", "$")}


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
