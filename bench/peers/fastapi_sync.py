"""FastAPI + SQLAlchemy 2 (sync engine, a session per request) + Pydantic v2: see bench/peers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench.peers import PAGE, UTCDateTime, bearer, digest, now, sync_url

engine = sa.create_engine(sync_url(os.environ["DATABASE_URL"]), pool_size=5, max_overflow=0)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]
    digest: Mapped[str]
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Todo(Base):
    __tablename__ = "todos"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int]
    title: Mapped[str]
    notes: Mapped[str]
    done: Mapped[bool]
    due: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TodoPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    notes: str
    done: bool
    due: date | None
    created_at: datetime
    updated_at: datetime


class TodoList(BaseModel):
    todos: list[TodoPublic]
    next_cursor: str | None


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def current_user_id(session: SessionDep, authorization: Annotated[str | None, Header()] = None):
    key = bearer(authorization)
    found = key and session.scalar(sa.select(ApiKey).where(ApiKey.digest == digest(key)))
    if not found or found.revoked_at or (found.expires_at and found.expires_at <= now()):
        raise HTTPException(status_code=401, detail="Invalid credentials")
    return found.user_id


app = FastAPI()


@app.get("/todos", response_model=TodoList)
def list_todos(session: SessionDep, user_id: Annotated[int, Depends(current_user_id)]):
    query = (
        sa.select(Todo)
        .where(Todo.owner_id == user_id, Todo.done.is_(False))
        .order_by(Todo.id)
        .limit(PAGE + 1)
    )
    todos = session.scalars(query).all()
    return TodoList(todos=todos[:PAGE], next_cursor=None)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
