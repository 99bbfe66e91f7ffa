"""Rate limits (Flask-Limiter): memory storage by default, Redis when REDIS_URL is set.

ChatGPT calls from a few shared egress addresses, so nothing on the API or the token endpoint is
limited per IP alone: the API is limited per credential (API_RATE_LIMIT, one budget shared by
all operations; in API-key mode one key serves every user of a GPT, hence the generous
default; see app.auth.protected) and the token endpoint per client_id. Log-in and sign-up are
limited in the database instead (app/accounts/attempts.py). Answers carry Flask-Limiter's
X-RateLimit-* headers, and a refused call its Retry-After (app/errors.py words the 429).
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address)

# Loose: every ChatGPT user's sign-in and refresh arrives from a few shared addresses.
TOKEN_ENDPOINT_IP_LIMIT = "3000 per minute"
# What the token endpoint's limit is given while it is off: exempt_when skips it before it
# counts anything.
_UNUSED = "1 per second"


def api_limit() -> str:
    # Only consulted while the limit is on (app.auth.protected).
    return current_app.config["API_RATE_LIMIT"]


def api_limit_off() -> bool:
    return current_app.config["API_RATE_LIMIT"] is None


def token_limit() -> str:
    return current_app.config["TOKEN_RATE_LIMIT"] or _UNUSED


def token_limit_off() -> bool:
    return current_app.config["TOKEN_RATE_LIMIT"] is None


def token_client_key() -> str:
    client_id, _ = extract_basic_authorization(request.headers)
    client_id = client_id or request.form.get("client_id") or ""
    return f"client:{client_id[:64]}" if client_id else f"ip:{get_remote_address()}"
