"""Reading a spec from a file, standard input or a URL, as JSON or YAML (chosen by content)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import requests
import yaml

from gpt_action_lint.problem import Problem
from gpt_action_lint.rules import RULES

MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024
URL_TIMEOUT_SECONDS = 10.0


def load(source: str, timeout: float = URL_TIMEOUT_SECONDS) -> tuple[Any, list[Problem]]:
    """Read FILE (JSON or YAML, by content), `-` for standard input, or an http(s) URL.

    Returns the parsed document, or None with the problem that prevented reading it.
    """
    if source.lower().startswith(("http://", "https://")):
        data = _fetch(source, timeout)
    else:
        data = _read_file(source)
    if isinstance(data, Problem):
        return None, [data]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [_problem("input-unreadable:text", source=source, byte=exc.start)]
    return parse(text, source)


def _problem(key: str, **args: Any) -> Problem:
    return RULES[key].problem((), **args)


def _read_file(source: str) -> bytes | Problem:
    try:
        if source == "-":
            data = sys.stdin.buffer.read(MAX_DOWNLOAD_BYTES + 1)
        else:
            with Path(source).open("rb") as fh:
                data = fh.read(MAX_DOWNLOAD_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: e.g. a NUL byte in the file name
        reason = getattr(exc, "strerror", None) or exc
        return _problem("input-unreadable", source=source, reason=reason)
    if len(data) > MAX_DOWNLOAD_BYTES:
        return _problem("input-unreadable:size", source=source, limit=MAX_DOWNLOAD_BYTES)
    return data


def _fetch(url: str, timeout: float) -> bytes | Problem:
    headers = {"Accept": "application/json, application/yaml;q=0.9, */*;q=0.5"}
    try:
        with requests.get(url, headers=headers, timeout=timeout, stream=True) as response:
            if response.status_code >= 400:
                status = f"{response.status_code} {response.reason or ''}".rstrip()
                return _problem("input-unreadable:http", source=url, status=status)
            data = b""
            for chunk in response.iter_content(64 * 1024):
                data += chunk
                if len(data) > MAX_DOWNLOAD_BYTES:
                    return _problem("input-unreadable:size", source=url, limit=MAX_DOWNLOAD_BYTES)
    except requests.RequestException as exc:
        return _problem("input-unreadable:fetch", source=url, reason=_reason(exc))
    except Exception as exc:  # odd URLs make urllib3 raise odd things
        return _problem("input-unreadable:fetch", source=url, reason=exc)
    return data


def _reason(exc: BaseException) -> str:
    """The innermost cause: requests wraps urllib3 wraps socket errors in long reprs."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    return f"{type(exc).__name__}: {exc}"


def parse(text: str, source: str = "<input>") -> tuple[Any, list[Problem]]:
    """Parse JSON or YAML text, chosen by content (a leading { or [ means JSON)."""
    stripped = text.lstrip()
    if not stripped:
        return None, [_problem("input-unparseable:empty", source=source)]
    json_error: str | None = None
    try:
        if stripped[0] in "{[":
            try:
                return json.loads(stripped), []
            except json.JSONDecodeError as exc:
                json_error = f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            except ValueError as exc:
                json_error = f"invalid JSON: {exc}"
        # Not CSafeLoader: libyaml overflows the C stack on deeply nested input and crashes
        # the process; the Python loader raises RecursionError instead.
        document = yaml.load(text, Loader=yaml.SafeLoader)
    except RecursionError:
        return None, [_problem("input-too-deep", source=source)]
    except Exception as exc:  # PyYAML raises ValueError etc. for bad scalars, too
        if isinstance(exc, yaml.MarkedYAMLError):
            mark = exc.problem_mark
            reason = f"invalid YAML: {exc.problem or exc.context}"
            if mark is not None:
                reason += f" at line {mark.line + 1}, column {mark.column + 1}"
        else:
            reason = f"invalid YAML: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        return None, [_problem("input-unparseable", source=source, reason=json_error or reason)]
    if document is None:
        return None, [_problem("input-unparseable:null", source=source)]
    return document, []
