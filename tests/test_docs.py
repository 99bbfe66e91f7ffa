"""The documentation keeps up with the code: a README a newcomer reads in minutes that points to
one file per subject, and every setting listed where operators look for it."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import SETTINGS

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS = REPO_ROOT / "docs"
# A record of an earlier design's measurements, linked from docs/performance.md.
HISTORY = {"bench-before-f6a3179.md"}


def test_the_readme_is_short_and_links_every_subject():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) <= 12 * 1024
    for required in ("make run", "make test", "## Connect a GPT", "## Connect a ChatGPT app"):
        assert required in readme
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)\)", readme))
    assert {p.name for p in DOCS.glob("*.md")} - HISTORY == linked


def test_every_link_between_the_docs_names_a_file_that_exists():
    for page in [REPO_ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([\w./-]+\.md)(?:#[\w-]+)?\)", page.read_text("utf-8")):
            assert (page.parent / target).is_file(), (page.name, target)


def test_every_setting_is_in_the_configuration_table_and_the_example_env():
    table = (DOCS / "configuration.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| (`[^`]*`|—) \|", table, re.MULTILINE)
    assert rows == [(name, f"`{default}`" if default else "—") for name, default, _ in SETTINGS]

    example = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    listed = re.findall(r"^(?:# )?([A-Z0-9_]+)=(.*)$", example, re.MULTILINE)
    assert listed == [(name, default or "") for name, default, _ in SETTINGS]
