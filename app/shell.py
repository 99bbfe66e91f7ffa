"""Commands the app shows an operator (on a page, or printed by a command), ready to paste."""

from __future__ import annotations

import shlex


def flask_command(*args: str) -> str:
    """`flask --app app ARGS`, each argument quoted for a POSIX shell: an email or URL holding
    spaces, quotes, `&` or `$(...)` stays one argument and runs nothing of its own."""
    return shlex.join(["flask", "--app", "app", *args])
