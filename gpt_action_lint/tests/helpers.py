from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from gpt_action_lint import Problem

GOOD = Path(__file__).parent / "specs" / "good.yaml"


def good() -> dict[str, Any]:
    """The good spec with string keys: YAML reads its unquoted `200:` as an int, which the
    linter accepts (the file tests cover that) but which the mutations would trip on."""
    return json.loads(json.dumps(yaml.safe_load(GOOD.read_text(encoding="utf-8"))))


def found(problems: list[Problem]) -> set[tuple[str, str, str]]:
    return {(p.rule, p.severity, p.path) for p in problems}
