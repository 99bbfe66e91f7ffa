"""Limits on log-in and sign-up attempts, counted in the database.

Flask-Limiter's memory storage counts in each worker process, so N workers would allow N times
a limit, and without Redis the database is all that the workers and instances of an app share.
Counting there also lets a limit rest on what only the app knows, a log-in that failed:

- log-in: failed log-ins per account and address, and per address across accounts. A stranger
  guessing at an account blocks only their own address; its owner, typing the right password
  from an address that has not been failing, logs in.
- sign-up: attempts per address.

An address is counted as its network (app/ratelimit.py): an IPv6 /64 is one address here.

Each attempt is written first and then counted with all others in its windows, itself
included, so attempts arriving together at any worker or instance never pass more than a
limit (at worst, racing attempts at the edge are all refused). A refused attempt is removed:
it does not push its window on. Rows older than the longest window are deleted as new ones are
written, so the table stays small without a scheduled job.
"""

from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa
from flask import request
from limits import RateLimitItem, parse_many

from app.extensions import db
from app.models import AuthAttempt, utcnow
from app.ratelimit import network

LOGIN = "log-in"
SIGNUP = "sign-up"
# Clients registering themselves, and fetches of client metadata documents a request makes this
# server do (app/oauth/registration.py).
REGISTRATION = "registration"
CLIENT_METADATA = "client-metadata"

# Per address: a person who mistypes does not come near it; a guesser, or one address trying
# many accounts, does.
LOGIN_ADDRESS_LIMIT = "20 per minute; 200 per hour"
LOGIN_ACCOUNT_LIMIT = "10 per minute; 50 per hour"
SIGNUP_ADDRESS_LIMIT = "10 per hour"
# ChatGPT registers once per connector, from a few addresses of its own for all its users.
REGISTRATION_ADDRESS_LIMIT = "30 per hour"
CLIENT_METADATA_ADDRESS_LIMIT = "60 per hour"

# (action, whether the account is part of the key, limits)
_RULES: tuple[tuple[str, bool, list[RateLimitItem]], ...] = (
    (LOGIN, False, parse_many(LOGIN_ADDRESS_LIMIT)),
    (LOGIN, True, parse_many(LOGIN_ACCOUNT_LIMIT)),
    (SIGNUP, False, parse_many(SIGNUP_ADDRESS_LIMIT)),
    (REGISTRATION, False, parse_many(REGISTRATION_ADDRESS_LIMIT)),
    (CLIENT_METADATA, False, parse_many(CLIENT_METADATA_ADDRESS_LIMIT)),
)
_KEPT = timedelta(seconds=max(item.get_expiry() for *_, items in _RULES for item in items))


class TooManyAttempts(Exception):
    """An attempt over a limit; the accounts pages answer 429 with Retry-After."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after

    def __str__(self) -> str:
        minutes = math.ceil(self.retry_after / 60)
        wait = "a minute" if minutes <= 1 else f"{minutes} minutes"
        return f"There were too many attempts from your address. Please try again in {wait}."


def _email(value: str | None) -> str:
    return (value or "").strip().lower()[:254]


def record(action: str, email: str | None = None) -> int:
    """Write an attempt from the client's address and return its id, or raise TooManyAttempts
    if it goes over a limit of `action`."""
    now = utcnow()
    address = network(request.remote_addr)
    db.session.execute(sa.delete(AuthAttempt).where(AuthAttempt.created_at < now - _KEPT))
    attempt = AuthAttempt(action=action, address=address, email=_email(email), created_at=now)
    db.session.add(attempt)
    db.session.commit()

    wait = max(
        (
            _wait(attempt, item, by_account)
            for rule_action, by_account, items in _RULES
            if rule_action == action
            for item in items
        ),
        default=0,
    )
    if wait:
        db.session.delete(attempt)
        db.session.commit()
        raise TooManyAttempts(wait)
    return attempt.id


def _wait(attempt: AuthAttempt, item: RateLimitItem, by_account: bool) -> int:
    """Seconds until `attempt` would have been within `item`; 0 if it is."""
    since = attempt.created_at - timedelta(seconds=item.get_expiry())
    criteria = [
        AuthAttempt.action == attempt.action,
        AuthAttempt.address == attempt.address,
        AuthAttempt.created_at > since,
    ]
    if by_account:
        criteria.append(AuthAttempt.email == attempt.email)
    count = db.session.scalar(sa.select(sa.func.count()).where(*criteria))
    if count <= item.amount:
        return 0
    # Once this attempt is gone, the oldest `count - amount` others must leave the window
    # before one more fits.
    oldest = db.session.scalar(
        sa.select(AuthAttempt.created_at)
        .where(*criteria, AuthAttempt.id != attempt.id)
        .order_by(AuthAttempt.created_at, AuthAttempt.id)
        .offset(count - item.amount - 1)
        .limit(1)
    )
    if oldest is None:
        return 1
    free_at = oldest + timedelta(seconds=item.get_expiry())
    return max(1, math.ceil((free_at - attempt.created_at).total_seconds()))


def logged_in(attempt_id: int, email: str | None) -> None:
    """The log-in succeeded: it is no failure, and the failures of this account from this
    address before it (a mistyped password or two) are forgotten."""
    db.session.execute(
        sa.delete(AuthAttempt).where(
            sa.or_(
                AuthAttempt.id == attempt_id,
                sa.and_(
                    AuthAttempt.action == LOGIN,
                    AuthAttempt.address == network(request.remote_addr),
                    AuthAttempt.email == _email(email),
                ),
            )
        )
    )
    db.session.commit()
