"""docs/template.md followed as written, in a scratch copy of the repository.

The copy holds what a clone of the working tree would (tracked and new files, nothing git
ignores: no instance/, no .env), so the doc and the code being edited are what is checked. Its
`git clone` line is the one step done otherwise, by that copy. Then every shell block of the
doc runs there as written, in order, and every file it shows is written where it says. The doc's
`make test` lines are not run inside this test; in their place the suite's cross-cutting tests
run in the copy, against its declared resources (the notes among them), with the notes' own
tests: what "no other test needs an edit" promises. Then the renamed copy is looked at where a
user sees names: none is the old one.

The copy uses this run's .venv: its `bin` is linked, and its install stamp is dated ahead so
that make never reinstalls the package from the copy into it. PYTHONPATH puts the copy's `app`
ahead of the editable install's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import project

REPO_ROOT = Path(__file__).resolve().parent.parent
DOC = REPO_ROOT / "docs" / "template.md"
NEW_NAME = "my-action"
NEW_TITLE = "My Action"
# The suite's tests of what holds for every declared resource: the spec, the contract, MCP (and
# the SDK's client against gunicorn), the runner, scopes, keys, OAuth and registration, the
# export and the privacy page, migrations, docs. The names are looked at below; browser, fault
# and load tests hold no list of resources.
CROSS_CUTTING = [
    "tests/test_notes.py",
    "tests/test_spec.py",
    "tests/test_contract.py",
    "tests/test_mcp.py",
    "tests/test_operations.py",
    "tests/test_account_data.py",
    "tests/test_api_keys.py",
    "tests/test_oauth_flow.py",
    "tests/test_oauth_registration.py",
    "tests/test_oauth_resources.py",
    "tests/test_clients_and_setup.py",
    "tests/test_commands.py",
    "tests/test_migrations.py",
    "tests/test_pages.py",
    "tests/test_docs.py",
    "tests/e2e/test_action_flow.py",
    "tests/e2e/test_mcp_client.py",
    "tests/e2e/test_mcp_oauth.py",
    "tests/e2e/test_mcp_registration.py",
]


def doc_files(text: str) -> dict[str, str]:
    """`**Model** — `app/notes/models.py` ...` followed by a python block: that file's text."""
    pattern = r"\*\*\w+\*\* — `((?:app|tests)/[\w/]+\.py)`.*?```python\n(.*?)```"
    return {path: body for path, body in re.findall(pattern, text, re.S)}


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def listing(text: str) -> str:
    """The doc's `git status` listing: the bare block after the Spec step's commands."""
    (block,) = re.findall(r"`git status` lists.*?```\n(.*?)```", text, re.S)
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
            shutil.copy2(source, target)


def share_venv(site: Path) -> None:
    venv = site / ".venv"
    venv.mkdir()
    (venv / "bin").symlink_to(Path(sys.executable).parent, target_is_directory=True)
    stamp = venv / ".installed-stamp"
    stamp.touch()
    later = time.time() + 86400
    os.utime(stamp, (later, later))


class Shell:
    def __init__(self, site: Path) -> None:
        self.site = site
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(site.parent),
            # The copy's app ahead of the editable install's, for every process it starts.
            "PYTHONPATH": str(site),
            "FLASK_SKIP_DOTENV": "1",
            "GIT_AUTHOR_NAME": "Ada",
            "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Ada",
            "GIT_COMMITTER_EMAIL": "ada@example.com",
        }
        # No TEST_DATABASE_URL: the copy's suite runs on SQLite files of its own, never on
        # the PostgreSQL database this suite is using.

    def run(self, script: str, timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=self.site,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
        return result


def without_make_test(block: str) -> str:
    return "\n".join(line for line in block.splitlines() if not line.startswith("make test"))


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Shell, str, str, str]:
    """A scratch copy with the doc followed up to and including its Spec step: the copy, its
    shell, the new migration's number, what `git status` printed, and the doc."""
    text = DOC.read_text(encoding="utf-8")
    site = tmp_path_factory.mktemp("template") / NEW_NAME
    scratch_copy(site)
    share_venv(site)
    shell = Shell(site)
    clone, start, migration, spec = shell_blocks(text)[:4]
    assert clone.strip().startswith("git clone ") and clone.count("\n") == 1, clone

    shell.run(without_make_test(start.replace("NAME=my-action", f"NAME={NEW_NAME}")))
    for path, body in doc_files(text).items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(body, encoding="utf-8")
    newest = max(int(p.name[:4]) for p in (site / "migrations" / "versions").glob("[0-9]*.py"))
    shell.run(migration)
    *commands, git_status = without_make_test(spec).strip().splitlines()
    shell.run("\n".join(commands))
    status = shell.run(git_status).stdout
    return site, shell, f"{newest + 1:04d}", status, text


def test_the_doc_starts_from_a_clone_and_renames_it(followed):
    site, _, _, _, text = followed
    (_, start, *_) = shell_blocks(text)
    assert f'make rename NAME={NEW_NAME} TITLE="{NEW_TITLE}"' in start
    declared = (site / "pyproject.toml").read_text()
    assert f'name = "{NEW_NAME}"' in declared and f'title = "{NEW_TITLE}"' in declared


def test_the_register_block_is_this_repositorys_resources_py_with_the_notes(followed):
    _, _, _, _, text = followed
    shown = doc_files(text)["app/resources.py"]
    ours = (REPO_ROOT / "app" / "resources.py").read_text(encoding="utf-8")
    assert "from app.notes import notes\n" in shown
    without = shown.replace("from app.notes import notes\n", "").replace(
        "(todos, notes)", "(todos,)"
    )
    assert without == ours


def test_the_migration_is_written_numbered_and_applied(followed):
    site, _, number, _, _ = followed
    migration = site / "migrations" / "versions" / f"{number}_notes.py"
    assert migration.is_file()
    written = migration.read_text()
    assert "create_table('notes'" in written or 'create_table("notes"' in written
    # Applied to the scratch copy's own development database, named after the new name.
    with sqlite3.connect(site / "instance" / f"{NEW_NAME}.sqlite3") as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        columns = [row[1] for row in conn.execute("PRAGMA table_info(notes)")]
    assert revision == number
    assert columns == ["id", "owner_id", "text", "pinned", "created_at"]


def test_git_status_lists_the_files_the_doc_says(followed):
    _, _, number, status, text = followed
    assert status == listing(text).replace("NNNN", number)


def test_the_cross_cutting_tests_hold_with_the_new_resource(followed):
    site, shell, _, _, _ = followed
    result = shell.run(
        f".venv/bin/pytest -q -p no:cacheprovider {' '.join(CROSS_CUTTING)}",
        timeout=900,
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary


# Run in the copy: every page, document and header a user meets that carries a name.
PROBE = """
import json, sys
from flask_migrate import upgrade
from tests.conftest import build_app, clean_env
from tests.browser import log_in, post_form
from tests.factories import make_key, make_user

app = build_app("sqlite:///" + sys.argv[1], PUBLIC_URL="https://notes.example.com")
with app.app_context():
    upgrade()
    make_user("ada@example.com", is_admin=True)
client = app.test_client()
seen = [
    client.get(path).get_data(as_text=True)
    for path in ["/", "/login", "/signup", "/privacy", "/docs/", "/openapi.json",
                 "/.well-known/oauth-protected-resource/mcp",
                 "/.well-known/oauth-authorization-server"]
]
seen.append(str(client.get("/todos").headers))
initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "probe", "version": "1"}}}
# Anyone may initialize: the notes resource has a public operation.
seen.append(client.post("/mcp", json=initialize,
                        headers={"Accept": "application/json, text/event-stream"}).text)
browser = app.test_client()
seen.append(str(log_in(browser).headers))
seen += [browser.get(path).text for path in ["/account", "/setup", "/admin"]]
seen.append(str(post_form(browser, "/account/export", page="/account").headers))
print(json.dumps(seen))
"""


def names_seen(site: Path, shell: Shell) -> str:
    """Everything a user meets that carries a name: the pages, the spec, the MCP handshake,
    the metadata documents, the challenge, the cookie, the export, and the CLI's help, its
    errors and its setup guide."""
    (site / "probe.py").write_text(PROBE, encoding="utf-8")
    # This run's interpreter: the copy's .venv/bin/python, a link, would not find the venv.
    pages = shell.run(f"{sys.executable} probe.py {site.parent / 'probe.sqlite3'}").stdout
    cli = [
        shell.run(".venv/bin/flask --app app --help").stdout,
        shell.run("APP_ENV=development .venv/bin/flask --app app gpt-setup 2>&1").stdout,
        subprocess.run(
            [".venv/bin/flask", "--app", "app", "users", "list"],
            cwd=site,
            env={**shell.env, "APP_ENV": "production"},
            capture_output=True,
            text=True,
            timeout=60,
        ).stderr,
    ]
    return "\n".join([*json.loads(pages.strip().splitlines()[-1]), *cli])


def test_the_renamed_copy_shows_its_new_name_and_never_the_old(followed):
    site, shell, _, _, _ = followed
    seen = names_seen(site, shell)
    old = project()
    old_names = {old.name, old.name.replace("-", "_"), old.title}
    for name in old_names:
        assert name.lower() not in seen.lower(), name
    assert NEW_TITLE in seen
    assert f'realm="{NEW_NAME}"' in seen
    assert re.search(rf'"serverInfo":\s*\{{"name":\s*"{NEW_NAME}"', seen), "serverInfo"
    assert f"{NEW_NAME.replace('-', '_')}_session=" in seen
    assert f"{NEW_NAME}-export-" in seen
    assert f"{NEW_NAME}: SECRET_KEY is missing" in seen
