"""Give a copy of this project its own name and title: `make rename NAME=my-action TITLE="My
Action"`.

The name and the title are declared once, in pyproject.toml, and the app reads them from there
(app/config.py, `project`): the name is what the CLI, the cookies, the MCP server, the realm and
the files go by; the title is what people see on pages, in the spec and in ChatGPT. This edits
those two lines, and the service names in deploy/, which a platform's dashboard shows. Standard
library only, so it runs before anything is installed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
# Where a platform names the service and its database after the project.
DEPLOY_FILES = ("deploy/app.json", "deploy/render.yaml", "deploy/fly.toml", "deploy/Dockerfile")
# What every platform takes as a service name: lower case, digits and dashes.
NAME = re.compile(r"[a-z][a-z0-9-]{0,38}[a-z0-9]")


def replace_line(text: str, old: str, new: str) -> str:
    """`text` with its one line `old` made `new`; a SystemExit when it has not exactly one."""
    lines = text.split("\n")
    if lines.count(old) != 1:
        raise SystemExit(f"rename: expected one line {old!r} in pyproject.toml")
    lines[lines.index(old)] = new
    return "\n".join(lines)


def toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rename(name: str, title: str) -> list[str]:
    """Rename the project; the files changed."""
    if not NAME.fullmatch(name):
        raise SystemExit(
            f"rename: NAME must be lower-case letters, digits and dashes, e.g. my-action, "
            f"not {name!r}"
        )
    if not title.strip() or not title.isprintable():
        raise SystemExit(f"rename: TITLE must be a line of text, not {title!r}")
    text = PYPROJECT.read_text(encoding="utf-8")
    declared = tomllib.loads(text)
    old_name = declared["project"]["name"]
    old_title = declared["tool"]["app"]["title"]
    text = replace_line(text, f"name = {toml_string(old_name)}", f"name = {toml_string(name)}")
    text = replace_line(
        text, f"title = {toml_string(old_title)}", f"title = {toml_string(title.strip())}"
    )
    PYPROJECT.write_text(text, encoding="utf-8")
    changed = ["pyproject.toml"]

    underscored = {old_name.replace("-", "_"): name.replace("-", "_")}
    for path in DEPLOY_FILES:
        file = ROOT / path
        before = file.read_text(encoding="utf-8")
        after = before.replace(old_name, name)
        for old, new in underscored.items():
            after = after.replace(old, new)
        if after != before:
            file.write_text(after, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str]) -> None:
    if len(argv) not in (1, 2) or not argv[0]:
        raise SystemExit('usage: make rename NAME=my-action TITLE="My Action"')
    name = argv[0]
    title = argv[1] if len(argv) == 2 and argv[1] else name.replace("-", " ").title()
    for path in rename(name, title):
        print(f"renamed in {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
