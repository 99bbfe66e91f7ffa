"""What a command shown to an operator does when pasted into a real shell."""

from __future__ import annotations

import subprocess
from pathlib import Path


def pasted(command: str, tmp_path: Path) -> list[str]:
    """The arguments `flask` receives when `command` is pasted into /bin/sh, with `flask` a
    function that only prints them; anything else the line runs shows too (in the output, or
    as a file in the empty directory it runs in)."""
    directory = tmp_path / "shell"
    directory.mkdir()
    result = subprocess.run(
        ["/bin/sh", "-c", 'flask() { printf "%s\\n" "$@"; }\n' + command],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert result.returncode == 0 and not result.stderr, result
    assert list(directory.iterdir()) == [], "the command ran something else"
    return result.stdout.splitlines()
