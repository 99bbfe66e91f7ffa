"""A problem found in a spec, and how it is printed: one grep-friendly line each."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from gpt_action_lint.walk import Path

Level = Literal["error", "warning"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Problem:
    severity: Level
    path: str
    rule: str
    message: str
    source: str

    def line(self, strict: bool = False) -> str:
        """One line; `strict` reports warnings as errors."""
        severity = "error" if strict else self.severity
        text = f"{severity}: {self.path}: {self.message} [{self.rule}, {self.source}]"
        return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def is_error(problem: Problem, strict: bool = False) -> bool:
    return strict or problem.severity == "error"


def summary(problems: Iterable[Problem], strict: bool = False) -> str:
    problems = list(problems)
    errors = sum(1 for p in problems if is_error(p, strict))
    warnings = len(problems) - errors
    return (
        f"{errors} {'error' if errors == 1 else 'errors'}, "
        f"{warnings} {'warning' if warnings == 1 else 'warnings'}"
    )


def json_path(parts: Path) -> str:
    """`$.paths['/todos'].get.summary` style path to a node."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}"
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            out += f"['{escaped}']"
    return out
