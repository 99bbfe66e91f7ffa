from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow

TITLE_MAX = 500
NOTES_MAX = 5000


class Todo(Base):
    __tablename__ = "todos"
    # getTodos pages through one owner's todos by id, filtered by done.
    __table_args__ = (
        sa.Index("ix_todos_owner_done_id", "owner_id", "done", "id"),
        # A deleted todo's id never names another todo (SQLite would reuse the largest id).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(TITLE_MAX))
    notes: Mapped[str] = mapped_column(sa.String(NOTES_MAX), default="", server_default="")
    done: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    due: Mapped[date | None] = mapped_column(sa.Date())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Todo {self.id} owner={self.owner_id}>"
