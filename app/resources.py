"""The resources this API offers, in the order the spec lists them.

Each is a package that declares its operations (app/operations.py); adding one to this tuple
is all it takes to serve it on both transports, publish it in the spec, and list its scopes
and its data.
"""

from __future__ import annotations

from collections.abc import Iterator

from app.operations import Operation, Resource
from app.todos import todos

RESOURCES: tuple[Resource, ...] = (todos,)


def all_operations() -> Iterator[tuple[Resource, Operation]]:
    for resource in RESOURCES:
        for operation in resource.operations:
            yield resource, operation


def all_scopes() -> dict[str, str]:
    """Every scope the resources declare, with the words the consent and key pages show."""
    scopes: dict[str, str] = {}
    for resource in RESOURCES:
        scopes.update(resource.scopes)
    return scopes
