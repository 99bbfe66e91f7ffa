from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class AuthAttempt(Base):
    """A failed log-in or a sign-up, kept for an hour to limit guessing (app/attempts.py)."""

    __tablename__ = "auth_attempts"
    __table_args__ = (
        sa.Index("ix_auth_attempts_action_address_created_at", "action", "address", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(sa.String(16))
    # The client address the app trusts (after TRUSTED_PROXY_HOPS), as its network: an IPv6
    # address stands for its /64 (app/ratelimit.py).
    address: Mapped[str] = mapped_column(sa.String(64))
    # What was typed in the form, normalised: unknown addresses are counted like real ones.
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
