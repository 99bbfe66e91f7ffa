"""Apps for gunicorn to serve in end-to-end tests, built by create_app from another registry.

`without_public_operations`: the declared resources less their public operations, if they have
any. With a public operation, an MCP client without a token may initialize and list the tools,
and a protected tool answers with a sign-in challenge in its result (what ChatGPT reads); the
MCP SDK's client signs in only after a 401, which it then never meets. Its sign-in tests use
this app, so they hold for any set of resources.
"""

from __future__ import annotations

import dataclasses

from flask import Flask

from app import create_app, resources
from app.operations import Resource


def protected_only() -> tuple[Resource, ...]:
    """The declared resources less their public operations."""
    return tuple(
        dataclasses.replace(r, operations=[o for o in r.operations if not o.public])
        for r in resources.RESOURCES
    )


def without_public_operations() -> Flask:
    # Set before create_app, which reads the registry; this process serves nothing else.
    resources.RESOURCES = protected_only()
    return create_app()
