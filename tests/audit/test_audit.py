"""The audit log: events for sensitive actions, no personal data in them, and any tampering detected."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine

from app.audit.service import append_pending_events, record_event, verify_chain
from app.db import install_sqlite_pragmas
from app.migrate import upgrade_database
from app.models import AuditEvent
from tests.factories import title_payload

EVENTS = 12


async def test_registry_writes_and_tokens_are_audited_without_personal_data(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, session: AsyncSession
) -> None:
    payload = title_payload()
    created = await client.post("/v1/credentials", json=payload, headers={"X-Request-ID": "req-audit-0001"})
    assert created.headers["x-request-id"] == "req-audit-0001"
    await client.post(
        f"/v1/credentials/title/SC/{payload['number']}/status", json={"status": "suspended", "reason": "核查"}
    )
    await anonymous.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("test-reader", "test-client-secret")
    )
    events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(3))).all()
    assert [e.action for e in reversed(events)] == [
        "credential.created",
        "credential.status_changed",
        "token.issued",
    ]
    assert events[-1].request_id == "req-audit-0001"
    assert (events[-1].client_id, events[0].client_id) == ("test-admin", "test-reader")
    dumped = " ".join(str([e.object_ref, e.details, e.client_id]) for e in events)
    for secret in (payload["holder"]["id_number"], payload["holder"]["name"], payload["number"]):
        assert secret not in dumped
    report = (await client.get("/v1/admin/audit/verify")).json()
    assert report["intact"] is True
    assert report["checked"] >= 3


async def test_failed_writes_leave_no_event(client: httpx.AsyncClient, session: AsyncSession) -> None:
    before = await session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    bad = title_payload(title_code="9999")
    assert (await client.post("/v1/credentials", json=bad)).status_code == 422
    assert await session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) == before


async def test_postgresql_table_is_append_only(connection: AsyncConnection) -> None:
    if connection.dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        record_event(session, "test.event")
        await append_pending_events(session)
        await session.commit()  # releases the savepoint: the row stays in the test's transaction
    for statement in (
        "UPDATE audit_events SET outcome = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with connection.begin_nested():
                await connection.execute(text(statement))


@pytest.fixture(scope="module")
def chain_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file holding a chain of EVENTS events."""
    path = tmp_path_factory.mktemp("audit") / "chain.db"

    async def build() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        install_sqlite_pragmas(engine)
        await upgrade_database(engine)
        async with AsyncSession(engine) as session, session.begin():
            for index in range(EVENTS):
                record_event(
                    session,
                    f"test.action{index % 3}",
                    client_id=f"client-{index % 2}",
                    object_ref=f"credential:{index}",
                    details={"n": index},
                )
                await append_pending_events(session)
        await engine.dispose()

    asyncio.run(build())
    return path


def verify_file(path: Path) -> Any:
    async def run() -> Any:
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        try:
            async with AsyncSession(engine) as session:
                return await verify_chain(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_untouched_chain_is_intact(chain_file: Path) -> None:
    report = verify_file(chain_file)
    assert (report.intact, report.checked) == (True, EVENTS)


# Each tampering breaks the chain at the event it touched (a swap, at the first of the two).
TAMPERS = {
    "edit-outcome": "UPDATE audit_events SET outcome = 'failure' WHERE seq = ?",
    "edit-client": "UPDATE audit_events SET client_id = 'mallory' WHERE seq = ?",
    "edit-details": "UPDATE audit_events SET details = '{\"n\": -1}' WHERE seq = ?",
    "edit-time": "UPDATE audit_events SET occurred_at = '2020-01-01 00:00:00.000000' WHERE seq = ?",
    "edit-hash": "UPDATE audit_events SET hash = '" + "f" * 64 + "' WHERE seq = ?",
    "delete": "DELETE FROM audit_events WHERE seq = ?",
    "swap-with-next": "",
}


@hypothesis_settings(max_examples=60)
@given(kind=st.sampled_from(sorted(TAMPERS)), seq=st.integers(min_value=1, max_value=EVENTS - 1))
def test_every_tampering_is_detected_at_its_event(
    chain_file: Path, tmp_path_factory: Any, kind: str, seq: int
) -> None:
    copy = tmp_path_factory.mktemp("tampered") / "copy.db"
    shutil.copy(chain_file, copy)
    with sqlite3.connect(copy) as conn:
        if kind == "swap-with-next":
            conn.execute("UPDATE audit_events SET seq = -1 WHERE seq = ?", (seq,))
            conn.execute("UPDATE audit_events SET seq = ? WHERE seq = ?", (seq, seq + 1))
            conn.execute("UPDATE audit_events SET seq = ? WHERE seq = -1", (seq + 1,))
        else:
            conn.execute(TAMPERS[kind], (seq,))
    report = verify_file(copy)
    assert not report.intact, kind
    assert report.broken_at == seq, (kind, report)


def test_removing_the_newest_events_is_detected(chain_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(chain_file, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("DELETE FROM audit_events WHERE seq > ?", (EVENTS - 2,))
    report = verify_file(copy)
    assert (report.intact, report.broken_at) == (False, EVENTS - 1)
