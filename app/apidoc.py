"""The one decorator every action view wears, so no operation misses a GPT-action rule."""

from __future__ import annotations

from collections.abc import Callable

from flask_smorest import Blueprint

from app.auth import authenticate

# Read by app.spec, which turns it into per-mode `security` and then removes it.
SCOPES_KEY = "x-todo-action-scopes"

AUTH_ERRORS = {
    401: "Missing, invalid or expired credentials",
    403: "The credential lacks a needed scope",
    429: "Too many requests; retry after the Retry-After seconds",
}


def action(
    blp: Blueprint, *, operation_id: str, consequential: bool, scopes: tuple[str, ...]
) -> Callable:
    """operationId, x-openai-isConsequential, auth and the auth error responses, in one place.

    Goes right under `@blp.route`, above `@blp.arguments` and `@blp.response`, so that a
    request without valid credentials is refused before its arguments are parsed.
    """

    def decorator(view: Callable) -> Callable:
        view = authenticate(*scopes)(view)
        for status, description in AUTH_ERRORS.items():
            view = blp.alt_response(status, schema="Error", description=description)(view)
        return blp.doc(
            operationId=operation_id,
            **{"x-openai-isConsequential": consequential, SCOPES_KEY: list(scopes)},
        )(view)

    return decorator
