"""Rate limits, counted with the `limits` library: in each worker's memory, or in Redis
(REDIS_URL) where every worker and instance shares one count.

ChatGPT calls from a few shared egress addresses, so nothing on the API or the token endpoint is
limited per IP alone:

- the API is limited per credential (API_RATE_LIMIT): one allowance for all its operations, on
  both transports (app/operations.py spends it for each request). In API-key mode one key
  serves every user of a GPT, hence the generous default; a caller without credentials is
  counted by its address's network (`network`);
- the token endpoint per client_id (TOKEN_RATE_LIMIT), and loosely per address.

Log-in and sign-up are limited in the database instead (app/attempts.py). If the storage cannot
be reached (Redis down), requests are let through and the failure is logged: the limits protect
the service, and refusing every call would take it down instead.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

log = logging.getLogger(__name__)

# Loose: every ChatGPT user's sign-in and refresh arrives from a few shared addresses.
TOKEN_ENDPOINT_IP_LIMIT = "3000 per minute"


@dataclass(frozen=True)
class Allowance:
    """What is left of a limit after a request was counted."""

    limit: int
    remaining: int
    reset: int  # Unix time when the window starts anew


class LimitExceeded(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def network(address: str | None) -> str:
    """What a limit counts an address as: an IPv4 address, or the /64 an IPv6 address is in.
    One subscriber, or one cloud server, is handed a whole /64, and counted by address it
    would have 2**64 allowances."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return (address or "")[:64]
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


class RateLimits:
    """One app's limits and their counts."""

    def __init__(self, config) -> None:
        self.storage = storage_from_string(config["RATELIMIT_STORAGE_URI"], wrap_exceptions=True)
        self.counter = FixedWindowRateLimiter(self.storage)
        self.api = _items(config["API_RATE_LIMIT"])
        self.token = _items(config["TOKEN_RATE_LIMIT"])
        self.token_ip = _items(TOKEN_ENDPOINT_IP_LIMIT) if self.token else []

    def spend(self, items: list[RateLimitItem], *key: str) -> Allowance | None:
        """Count one request against each of `items` for `key`: what is left of the tightest,
        or None when there is no limit or its storage cannot be reached. LimitExceeded when an
        allowance is used up."""
        if not items:
            return None
        left: list[Allowance] = []
        waits: list[int] = []
        try:
            for item in items:
                allowed = self.counter.hit(item, *key)
                reset, remaining = self.counter.get_window_stats(item, *key)
                left.append(Allowance(item.amount, remaining, math.ceil(reset)))
                if not allowed:
                    waits.append(max(1, math.ceil(reset - time.time())))
        except StorageError as error:
            log.error("rate limit storage unavailable, request not counted: %s", error)
            return None
        if waits:
            raise LimitExceeded(max(waits))
        return min(left, key=lambda allowance: allowance.remaining, default=None)


def _items(limit: str | None) -> list[RateLimitItem]:
    # A setting may hold several limits ("10 per second; 600 per minute"); each counts.
    return [] if limit is None else parse_many(limit)


def init_app(app: Flask) -> None:
    app.extensions["todo_action_limits"] = RateLimits(app.config)


def limits() -> RateLimits:
    return current_app.extensions["todo_action_limits"]


def spend_api(key: str) -> Allowance | None:
    """Count a call of the API (either transport) against the allowance of `key`."""
    return limits().spend(limits().api, "api", key)


def token_endpoint_limited(view: Callable) -> Callable:
    """Limit the token endpoint per OAuth client and per address (429 with Retry-After)."""

    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        counts = limits()
        try:
            counts.spend(counts.token, "token", _token_client_key())
            counts.spend(counts.token_ip, "token-ip", network(request.remote_addr))
        except LimitExceeded as exceeded:
            raise TooManyRequests(retry_after=exceeded.retry_after) from None
        return view(*args, **kwargs)

    return limited


def _token_client_key() -> str:
    client_id, _ = extract_basic_authorization(request.headers)
    client_id = client_id or request.form.get("client_id") or ""
    return f"client:{client_id[:64]}" if client_id else f"ip:{network(request.remote_addr)}"
