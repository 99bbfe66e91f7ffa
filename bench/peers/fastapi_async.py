"""FastAPI + SQLAlchemy 2 (async engine: aiosqlite, asyncpg) + Pydantic v2: see bench/peers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header, HTTPException
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.peers import PAGE, async_url, bearer, digest, now
from bench.peers.fastapi_sync import ApiKey, Todo, TodoList

engine = create_async_engine(async_url(os.environ["DATABASE_URL"]), pool_size=5, max_overflow=0)


async def get_session() -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def current_user_id(
    session: SessionDep, authorization: Annotated[str | None, Header()] = None
):
    key = bearer(authorization)
    found = key and await session.scalar(sa.select(ApiKey).where(ApiKey.digest == digest(key)))
    if not found or found.revoked_at or (found.expires_at and found.expires_at <= now()):
        raise HTTPException(status_code=401, detail="Invalid credentials")
    return found.user_id


app = FastAPI()


@app.get("/todos", response_model=TodoList)
async def list_todos(session: SessionDep, user_id: Annotated[int, Depends(current_user_id)]):
    query = (
        sa.select(Todo)
        .where(Todo.owner_id == user_id, Todo.done.is_(False))
        .order_by(Todo.id)
        .limit(PAGE + 1)
    )
    todos = (await session.scalars(query)).all()
    return TodoList(todos=todos[:PAGE], next_cursor=None)


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}
