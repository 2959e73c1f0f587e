"""Which database errors are an outage (503 with Retry-After) and which a fault (the bare 500), as the app's
error handlers render them; and that a saturated pool answers 503 quickly instead of holding the request."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db import create_engine
from app.problems import DatabaseOutageGuard, install_error_handlers
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


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word: a frozen PostgreSQL, as a client sees it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


async def test_a_server_that_never_answers_is_a_503_within_the_connect_time_out(
    settings: Settings, silent_server: int
) -> None:
    silent = settings.model_copy(
        update={
            "database_url": f"postgresql+asyncpg://huren@127.0.0.1:{silent_server}/huren",
            "db_connect_timeout_seconds": 0.5,
        }
    )
    engine = create_engine(silent)
    try:
        started = time.monotonic()
        answer = await get(app_on(engine, "SELECT 1"), "/run")
        assert time.monotonic() - started < 3
        assert_database_unavailable(answer)
    finally:
        await engine.dispose()


def raising_middleware(app: ASGIApp, error: Exception) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise error
        await app(scope, receive, send)

    return middleware


async def test_an_outage_raised_in_a_middleware_is_answered_503_and_not_raised_on() -> None:
    """Outside the routes the app's handlers answer, but Starlette then raises the error on to the server,
    which logs a traceback for a database that was only restarting. The guard ends it with the answer."""
    app = FastAPI()
    install_error_handlers(app, retry_after_seconds=3)
    app.add_middleware(raising_middleware, error=ConnectionRefusedError("the database restarts"))
    app.add_middleware(DatabaseOutageGuard, retry_after_seconds=3)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert_database_unavailable(await client.get("/anything"))


async def test_the_guard_lets_any_other_error_through() -> None:
    app = FastAPI()
    app.add_middleware(raising_middleware, error=ValueError("a fault of ours"))
    app.add_middleware(DatabaseOutageGuard, retry_after_seconds=3)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(ValueError, match="a fault of ours"):
            await client.get("/anything")
