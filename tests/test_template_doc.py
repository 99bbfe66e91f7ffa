"""docs/template.md's migration step, followed as written in a scratch copy of the repository.

The copy holds what a clone of the working tree would (tracked and new files, nothing git
ignores: no instance/, no .env), so the doc and code being edited are what is checked. The
doc's notes files go in, its shell commands run there with this project's .venv, and the
migration they write must appear and apply.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import project

REPO_ROOT = Path(__file__).resolve().parent.parent
DOC = REPO_ROOT / "docs" / "template.md"


def doc_files(text: str) -> dict[str, str]:
    """`**Model** — `app/notes/models.py` ...` followed by a python block: that file's text."""
    pattern = r"\*\*\w+\*\* — `(app/[\w/]+\.py)`.*?```python\n(.*?)```"
    return {path: body for path, body in re.findall(pattern, text, re.S)}


def doc_migration_commands(text: str) -> str:
    (block,) = re.findall(r"\*\*Migration\*\*.*?```sh\n(.*?)```", text, re.S)
    return block


def scratch_copy(destination: Path) -> None:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    for name in filter(None, listed.decode().split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def test_the_documented_migration_commands_write_and_apply_the_migration(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    files = doc_files(text)
    assert {"app/notes/models.py", "app/resources.py"} <= set(files)
    site = tmp_path / "my-action"
    scratch_copy(site)
    for path, body in files.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(body, encoding="utf-8")
    # The doc runs .venv/bin/flask, which `make test` made; this run's is the same one.
    (site / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    versions = site / "migrations" / "versions"
    before = {p.name for p in versions.glob("*.py")}
    newest = max(int(name[:4]) for name in before if name[:4].isdigit())

    result = subprocess.run(
        ["bash", "-e", "-c", doc_migration_commands(text)],
        cwd=site,
        env={"PATH": os.environ.get("PATH", ""), "FLASK_SKIP_DOTENV": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr

    (written,) = {p.name for p in versions.glob("*.py")} - before
    assert written == f"{newest + 1:04d}_notes.py"
    migration = (versions / written).read_text()
    assert "create_table('notes'" in migration or 'create_table("notes"' in migration
    # Applied to the scratch copy's own development database, not this checkout's.
    with sqlite3.connect(site / "instance" / f"{project().name}.sqlite3") as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        columns = [row[1] for row in conn.execute("PRAGMA table_info(notes)")]
        indexes = [row[1] for row in conn.execute("PRAGMA index_list(notes)")]
        indexed = {
            column[2] for name in indexes for column in conn.execute(f"PRAGMA index_info({name})")
        }
    assert revision == f"{newest + 1:04d}"
    assert columns == ["id", "owner_id", "text", "created_at"]
    assert "owner_id" in indexed  # "creates the notes table and its index"
