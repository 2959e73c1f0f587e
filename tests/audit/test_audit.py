"""The audit log: events for sensitive actions, no personal data in them, and any tampering detected."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from app.audit.service import (
    PendingEvent,
    append_pending_events,
    canonical_record,
    link_events,
    purge_events,
    record_event,
    verify_chain,
)
from app.db import install_sqlite_pragmas
from app.migrate import upgrade_database
from app.models import AuditEvent, AuditHead
from tests.factories import title_payload
from tests.processes import huren_env, run_huren

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
    with closing(sqlite3.connect(copy)) as conn, conn:  # closed, after the `with conn` commits
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
    with closing(sqlite3.connect(copy)) as conn, conn:  # closed, after the `with conn` commits
        conn.execute("DELETE FROM audit_events WHERE seq > ?", (EVENTS - 2,))
    report = verify_file(copy)
    assert (report.intact, report.broken_at) == (False, EVENTS - 1)


async def old_and_new_chain(path: Path, old: int, new: int) -> AsyncEngine:
    """A migrated SQLite file whose chain holds `old` events from 400 days ago, then `new` recent ones."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    install_sqlite_pragmas(engine)
    await upgrade_database(engine)
    long_ago = datetime.now(UTC) - timedelta(days=400)
    async with AsyncSession(engine) as session, session.begin():
        head = await session.scalar(select(AuditHead).where(AuditHead.id == 1))
        assert head is not None
        pending = [
            PendingEvent("test.old", "success", None, f"x:{i}", None, None, long_ago + timedelta(minutes=i))
            for i in range(old)
        ]
        events = link_events(head.seq, head.hash, pending)
        session.add_all(events)
        head.seq, head.hash = events[-1].seq, events[-1].hash
        for i in range(new):
            record_event(session, "test.recent", object_ref=f"y:{i}")
        await append_pending_events(session)
    return engine


async def test_a_retention_purge_removes_the_old_prefix_and_the_chain_still_verifies(tmp_path: Path) -> None:
    engine = await old_and_new_chain(tmp_path / "purge.db", old=7, new=3)
    try:
        async with AsyncSession(engine) as session, session.begin():
            removed = await purge_events(session, datetime.now(UTC) - timedelta(days=183))
            await append_pending_events(session)
        assert removed == 7
        async with AsyncSession(engine) as session:
            actions = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))).all()
            assert actions == ["test.recent"] * 3 + ["audit.purged"]
            report = await verify_chain(session)
            assert (report.intact, report.checked) == (True, 4)
        async with AsyncSession(engine) as session, session.begin():  # nothing more to purge
            assert await purge_events(session, datetime.now(UTC) - timedelta(days=183)) == 0
        async with AsyncSession(engine) as session, session.begin():
            # Removing the first kept event is still caught: it no longer links to the anchor.
            await session.execute(text("DELETE FROM audit_events WHERE seq = 8"))
        async with AsyncSession(engine) as session:
            report = await verify_chain(session)
            assert (report.intact, report.broken_at) == (False, 8)
    finally:
        await engine.dispose()


def test_huren_audit_purge_refuses_to_cut_into_the_retention(tmp_path: Path) -> None:
    env = huren_env(tmp_path / "cli.db")
    refused = run_huren(env, "audit", "purge", "--older-than-days", "30")
    assert refused.returncode == 2
    assert "at least 183 days" in refused.stdout
    done = run_huren(env, "audit", "purge")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "removed 0 audit events" in done.stdout


def test_the_person_is_hashed_into_a_link_and_older_links_hash_as_before() -> None:
    base = {
        "seq": 7,
        "occurred_at": datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        "client_id": "huren-web",
        "action": "credential.verified",
        "object_ref": "ref:abc",
        "outcome": "valid",
        "request_id": None,
        "details": None,
    }
    machine = canonical_record({**base, "actor": None, "actor_method": None, "actor_roles": None})
    assert machine == canonical_record(base)  # an event from before people existed hashes the same
    assert b"actor" not in machine
    person = canonical_record(
        {**base, "actor": "wang.clerk", "actor_method": "password", "actor_roles": "clerk"}
    )
    other = canonical_record(
        {**base, "actor": "li.clerk", "actor_method": "password", "actor_roles": "clerk"}
    )
    assert person != machine
    assert person != other
