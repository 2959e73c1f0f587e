"""The group-commit writer stores each event as given and links it into the chain, on either database
(on PostgreSQL it binds a batch as arrays on the driver: app/audit/writer.py)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.audit import writer as writer_module
from app.audit.service import PendingEvent, verify_chain
from app.audit.writer import AuditWriter
from app.models import AuditEvent
from tests.conftest import savepoints

SHANGHAI = timezone(timedelta(hours=8))


def event(n: int, details: dict[str, object] | None) -> PendingEvent:
    return PendingEvent(
        action="credential.verified",
        outcome="valid" if n % 2 else "no_match",
        client_id=None if n == 3 else f"client-{n}",
        object_ref=f"ref:{n:064x}",
        request_id=None if n == 2 else f"request-{n}",
        details=details,
        # An offset other than UTC, to the microsecond: stored as the same instant.
        occurred_at=datetime(2026, 11, 29, 8, 0, n, 123456 + n, tzinfo=SHANGHAI),
    )


def as_given(e: AuditEvent | PendingEvent) -> tuple[object, ...]:
    return (e.action, e.outcome, e.client_id, e.object_ref, e.request_id, e.details, e.occurred_at)


async def test_a_batch_is_stored_as_given_and_chained(
    connection: AsyncConnection, session: AsyncSession
) -> None:
    writer = AuditWriter(savepoints(connection))
    before = await session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    given = [
        event(1, None),
        event(2, {"caller_region": "CQ", "recognition": "direct", "note": "四川 → 重庆"}),
        event(3, {"items": [1, 2, {"nested": True}], "empty": {}}),
        event(4, {}),
    ]
    # Two callers at once: one batch or two, the chain takes both in order.
    await asyncio.gather(writer.append(given[:2]), writer.append(given[2:]))
    stored = (
        await session.scalars(select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq))
    ).all()
    assert [e.seq for e in stored] == [before + n for n in range(1, 5)]
    assert [as_given(e) for e in stored] == [as_given(g) for g in given]
    assert all(e.occurred_at.utcoffset() == timedelta(0) for e in stored)
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    assert (await verify_chain(session)).intact


async def test_an_empty_batch_writes_nothing(connection: AsyncConnection, session: AsyncSession) -> None:
    writer = AuditWriter(savepoints(connection))
    count = len((await session.scalars(select(AuditEvent.seq))).all())
    await writer.write([])
    assert len((await session.scalars(select(AuditEvent.seq))).all()) == count


async def test_a_failed_batch_on_postgresql_leaves_nothing_committed(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real transactions, not the fixtures' savepoints: SQLAlchemy's asyncpg adapter opens one only with its
    first statement, and links sent on the driver before it would have committed on their own."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the driver path is PostgreSQL's")
    marker = f"ref:{secrets.token_hex(32)}"
    # Fails after the links went in.
    monkeypatch.setattr(writer_module, "MOVE_HEAD_SQL", "SELECT $1::bigint / 0, $2::text")
    with pytest.raises(Exception, match="division by zero"):
        await AuditWriter(engine.begin).write([replace(event(1, None), object_ref=marker)])
    async with engine.connect() as conn:
        stored = await conn.scalar(select(func.count()).where(AuditEvent.object_ref == marker))
    assert stored == 0
