"""Rate limits (Flask-Limiter): memory storage by default, Redis when REDIS_URL is set.

ChatGPT calls from a few shared egress addresses, so nothing on the API or the token endpoint is
limited per IP alone: the API is limited per credential (API_RATE_LIMIT; in API-key mode one key
serves every user of a GPT, hence the generous default) and the token endpoint per client_id.
Log-in and sign-up are limited per address and per account, against password guessing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Flask, current_app, render_template, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_smorest import abort
from limits import RateLimitItem, parse_many

from app.errors import error_response, wants_page

F = TypeVar("F", bound=Callable[..., Any])


class AppLimiter(Limiter):
    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True):
        # Skipped before Flask-Limiter resolves the request's limits: that bookkeeping, even
        # with nothing to count, was a tenth of a cached getTodos call and of a token refresh.
        # Actions are limited by check_api_limit, per credential.
        view = current_app.view_functions.get(request.endpoint or "")
        if in_middleware and getattr(view, "_required_scopes", None) is not None:
            return
        limits_off = getattr(view, "_limits_off", None)
        if limits_off is not None and limits_off():
            return
        super()._check_request_limit(callable_name, in_middleware)


def limits_off_when(predicate: Callable[[], bool]) -> Callable[[F], F]:
    """Mark a view (above its @limiter.limit decorators) whose limits are all off when
    `predicate()` is true, so that its requests skip Flask-Limiter altogether then."""

    def decorator(view: F) -> F:
        view._limits_off = predicate  # type: ignore[attr-defined]
        return view

    return decorator


limiter = AppLimiter(key_func=get_remote_address, headers_enabled=True)

# Loose: every ChatGPT user's sign-in and refresh arrives from a few shared addresses.
TOKEN_ENDPOINT_IP_LIMIT = "3000 per minute"
LOGIN_IP_LIMIT = "20 per minute; 200 per hour"
LOGIN_ACCOUNT_LIMIT = "10 per minute; 50 per hour"
SIGNUP_IP_LIMIT = "10 per hour"


def token_limit() -> str:
    return current_app.config["TOKEN_RATE_LIMIT"] or "1 per second"


def token_limit_off() -> bool:
    return current_app.config["TOKEN_RATE_LIMIT"] is None


@lru_cache(maxsize=8)
def _parse(value: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(value))


def check_api_limit(credential_id: str) -> None:
    """Count this API call against its credential's API_RATE_LIMIT; 429 past it.

    Called by app.auth.authenticate once the credential is known. It uses Flask-Limiter's
    storage (memory or Redis) directly rather than its decorator, so that with the limit off
    an API call pays nothing for it.
    """
    value = current_app.config["API_RATE_LIMIT"]
    if value is None:
        return
    for item in _parse(value):
        if not limiter.limiter.hit(item, "api", credential_id):
            reset_at, _ = limiter.limiter.get_window_stats(item, "api", credential_id)
            retry_after = max(1, math.ceil(reset_at - time.time()))
            abort(
                429,
                message=f"Too many requests; retry after {retry_after} seconds.",
                headers={"Retry-After": str(retry_after)},
            )


def token_client_key() -> str:
    client_id, _ = extract_basic_authorization(request.headers)
    client_id = client_id or request.form.get("client_id") or ""
    return f"client:{client_id[:64]}" if client_id else f"ip:{get_remote_address()}"


def login_account_key() -> str:
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"account:{email}" if email else f"ip:{get_remote_address()}"


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(error: RateLimitExceeded):
        # Flask-Limiter adds Retry-After (and X-RateLimit-*) to this response after it is built.
        if wants_page():
            body = render_template(
                "error.html",
                title="Too many attempts",
                message="Please wait a minute and try again.",
            )
            response = current_app.response_class(body, status=429, mimetype="text/html")
        elif request.endpoint in ("oauth.issue_token", "oauth.revoke_token"):
            response = current_app.response_class(
                '{"error": "slow_down", "error_description": "Too many requests."}',
                status=429,
                mimetype="application/json",
            )
        else:
            response, _ = error_response(
                429, "Too many requests; retry after the number of seconds in Retry-After."
            )
            response.status_code = 429
        return response
