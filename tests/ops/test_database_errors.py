"""Which database errors are an outage (503 with Retry-After) and which a fault (the bare 500), as the app's
error handlers render them; and that a saturated pool answers 503 quickly instead of holding the request."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine
from app.problems import install_error_handlers
from app.settings import Settings


def app_on(engine: AsyncEngine, statement: str) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, retry_after_seconds=3)

    @app.get("/run")
    async def run() -> dict[str, str]:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
        return {"ran": statement}

    return app


@pytest.fixture
async def small_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """One connection, a short wait for it, a short statement time-out."""
    tight = settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout_seconds": 0.3})
    engine = create_engine(tight, statement_timeout_ms=300)
    yield engine
    await engine.dispose()


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


def assert_database_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "3"
    body = answer.json()
    assert body["type"] == "/problems/database-unavailable"
    assert body["code"] == "database.unavailable"


async def test_an_exhausted_pool_answers_503_quickly(small_engine: AsyncEngine) -> None:
    if small_engine.dialect.name != "postgresql":
        pytest.skip("SQLite's pool is not sized by the settings")
    async with small_engine.connect():  # the pool's one connection, held
        started = time.monotonic()
        answer = await get(app_on(small_engine, "SELECT 1"), "/run")
        waited = time.monotonic() - started
    assert_database_unavailable(answer)
    assert waited < 2
    # Returned to the pool, the connection serves again.
    assert (await get(app_on(small_engine, "SELECT 1"), "/run")).status_code == 200


async def test_a_statement_past_its_time_out_answers_503(small_engine: AsyncEngine) -> None:
    if small_engine.dialect.name != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's")
    started = time.monotonic()
    answer = await get(app_on(small_engine, "SELECT pg_sleep(5)"), "/run")
    assert_database_unavailable(answer)
    assert time.monotonic() - started < 2


async def test_a_wrong_statement_is_still_the_bare_500(small_engine: AsyncEngine) -> None:
    answer = await get(app_on(small_engine, "SELECT * FROM no_such_table"), "/run")
    assert answer.status_code == 500
    assert answer.json()["type"] == "/problems/internal-error"
    assert "retry-after" not in answer.headers
