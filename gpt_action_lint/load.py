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
        data, problem = _fetch(source, timeout)
    else:
        data, problem = _read_file(source)
    if problem is not None:
        return None, [problem]
    try:
        text = (data or b"").decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [_unreadable(f"{source} is not UTF-8 text (byte {exc.start}); is it a spec?")]
    return parse(text, source)


def _unreadable(message: str) -> Problem:
    return RULES["input-unreadable"].problem((), message)


def _unparseable(message: str) -> Problem:
    return RULES["input-unparseable"].problem((), message)


def _too_deep(source: str) -> Problem:
    return RULES["input-too-deep"].problem((), f"{source} is nested too deeply")


def _read_file(source: str) -> tuple[bytes | None, Problem | None]:
    try:
        if source == "-":
            data = sys.stdin.buffer.read(MAX_DOWNLOAD_BYTES + 1)
        else:
            with Path(source).open("rb") as fh:
                data = fh.read(MAX_DOWNLOAD_BYTES + 1)
    except OSError as exc:
        return None, _unreadable(f"cannot read {source}: {exc.strerror or exc}")
    except ValueError as exc:  # e.g. a NUL byte in the file name
        return None, _unreadable(f"cannot read {source}: {exc}")
    if len(data) > MAX_DOWNLOAD_BYTES:
        return None, _unreadable(f"{source} is larger than {MAX_DOWNLOAD_BYTES} bytes")
    return data, None


def _fetch(url: str, timeout: float) -> tuple[bytes | None, Problem | None]:
    headers = {"Accept": "application/json, application/yaml;q=0.9, */*;q=0.5"}
    try:
        with requests.get(url, headers=headers, timeout=timeout, stream=True) as response:
            if response.status_code >= 400:
                status = f"{response.status_code} {response.reason or ''}".rstrip()
                return None, _unreadable(f"{url} answered HTTP {status}")
            data = b""
            for chunk in response.iter_content(64 * 1024):
                data += chunk
                if len(data) > MAX_DOWNLOAD_BYTES:
                    return None, _unreadable(f"{url} is larger than {MAX_DOWNLOAD_BYTES} bytes")
    except requests.RequestException as exc:
        return None, _unreadable(f"cannot fetch {url}: {_reason(exc)}")
    except Exception as exc:  # odd URLs make urllib3 raise odd things
        return None, _unreadable(f"cannot fetch {url}: {exc}")
    return data, None


def _reason(exc: BaseException) -> str:
    """The innermost cause: requests wraps urllib3 wraps socket errors in long reprs."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    return f"{type(exc).__name__}: {exc}"


def parse(text: str, source: str = "<input>") -> tuple[Any, list[Problem]]:
    """Parse JSON or YAML text, chosen by content (a leading { or [ means JSON)."""
    stripped = text.lstrip()
    if not stripped:
        return None, [_unparseable(f"{source} is empty")]
    json_error: str | None = None
    if stripped[0] in "{[":
        try:
            return json.loads(stripped), []
        except json.JSONDecodeError as exc:
            json_error = f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        except RecursionError:
            return None, [_too_deep(source)]
        except ValueError as exc:
            json_error = f"invalid JSON: {exc}"
    try:
        # Not CSafeLoader: libyaml overflows the C stack on deeply nested input and crashes
        # the process; the Python loader raises RecursionError instead.
        document = yaml.load(text, Loader=yaml.SafeLoader)
    except RecursionError:
        return None, [_too_deep(source)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = json_error or f"invalid YAML: {exc.problem or exc.context}{where}"
        return None, [_unparseable(f"{source}: {reason}")]
    except Exception as exc:  # PyYAML raises ValueError etc. for bad scalars
        first_line = (str(exc).splitlines() or [""])[0]
        reason = json_error or f"invalid YAML: {type(exc).__name__}: {first_line}"
        return None, [_unparseable(f"{source}: {reason}")]
    if document is None:
        return None, [_unparseable(f"{source} holds no document")]
    return document, []
