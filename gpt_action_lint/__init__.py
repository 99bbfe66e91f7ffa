"""Check an OpenAPI document against what ChatGPT's GPT action importer accepts.

    from gpt_action_lint import lint, load
    document, problems = load("openapi.yaml")   # a file, "-" or an http(s) URL
    problems += lint(document) if document is not None else []

`lint` walks the document once (`walk.Spec`), runs each check in `checks` over it, and turns each
finding into a problem with the level, source and message its row in `rules.RULES` holds. It
needs no app and no settings. Everything must survive arbitrary input (teams lint their own
specs, some of them broken): a check that crashes is reported as a problem, and the other checks
still run.
"""

from __future__ import annotations

from typing import Any

from gpt_action_lint.load import load, parse
from gpt_action_lint.problem import Problem, is_error, summary
from gpt_action_lint.rules import RULES, TABLE, Rule
from gpt_action_lint.walk import MAX_NODES, Spec, TooLarge, normalize

__all__ = ["RULES", "TABLE", "Problem", "Rule", "is_error", "lint", "load", "parse", "summary"]


def lint(document: Any) -> list[Problem]:
    """Every problem ChatGPT's importer (or the OpenAPI spec) would have with `document`."""
    if not isinstance(document, dict):
        return [RULES["openapi-document"].problem((), type=type(document).__name__)]
    try:
        spec = Spec(normalize(document))
    except TooLarge:
        return [RULES["input-too-large"].problem((), limit=MAX_NODES)]
    except RecursionError:
        return [RULES["input-too-deep:lint"].problem(())]
    problems: list[Problem] = []
    for check in dict.fromkeys(rule.check for rule in TABLE if rule.check is not None):
        name = check.__name__
        try:
            for key, path, args in check(spec):
                problems.append(RULES[key].problem(path, **args))
        except RecursionError:
            problems.append(RULES["input-too-deep:check"].problem((), check=name))
        except Exception as exc:  # one broken check must not hide the others
            error = f"{type(exc).__name__}: {exc}"
            problems.append(RULES["linter-internal"].problem((), check=name, error=error))
    # A path-level parameter is checked once for each operation that shares it.
    return list(dict.fromkeys(problems))
