"""The raw-driver look-up (PostgreSQL) gives a dropped connection back to no one: the next look-up works."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_read_engine, is_database_unavailable
from app.settings import Settings
from app.verification.lookup import find_one


async def test_a_connection_the_server_dropped_is_not_reused(engine: AsyncEngine, settings: Settings) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the raw-driver look-up is PostgreSQL's")
    reads = create_read_engine(engine, settings, pool_size=1)  # one connection: a reused dead one would show
    try:
        async with reads.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            assert await find_one(conn, "title", "SC", "NO-SUCH-NUMBER") is None
        async with engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(Exception) as dropped:  # noqa: PT011 (the driver's error, whichever it is)
            async with reads.connect() as conn:
                await find_one(conn, "title", "SC", "NO-SUCH-NUMBER")
        assert is_database_unavailable(dropped.value)  # answered 503, not 500
        async with reads.connect() as conn:
            assert await find_one(conn, "title", "SC", "NO-SUCH-NUMBER") is None
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
    finally:
        await reads.dispose()
