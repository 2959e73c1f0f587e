"""Recording audit events with the request's own transaction, and proving the chain unbroken.

Events are collected on the session during a request and appended just before it commits, under a lock on the
one-row chain head: the lock is held only for the commit, the event exists exactly when the action does, and
every event gets the next sequence number and a hash over the previous link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.models import AuditEvent, AuditHead
from app.security import Person, Principal
from app.tracing import request_id_of

GENESIS_HASH = "0" * 64
PENDING_KEY = "huren_audit_pending"


@dataclass(frozen=True)
class PendingEvent:
    action: str
    outcome: str
    client_id: str | None
    object_ref: str | None
    request_id: str | None
    details: dict[str, Any] | None
    occurred_at: datetime
    # The person behind the action, when a person acted (a staff session), else all None.
    actor: str | None = None
    actor_method: str | None = None
    actor_roles: str | None = None


class PersonFields(TypedDict):
    actor: str | None
    actor_method: str | None
    actor_roles: str | None


def person_fields(person: Person | None) -> PersonFields:
    """The audit columns naming a person: all None for a machine client."""
    if person is None:
        return {"actor": None, "actor_method": None, "actor_roles": None}
    return {"actor": person.username, "actor_method": person.method, "actor_roles": ",".join(person.roles)}


def record_event(
    session: AsyncSession,
    action: str,
    *,
    outcome: str = "success",
    client_id: str | None = None,
    object_ref: str | None = None,
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
    caller: Principal | None = None,
    person: Person | None = None,
    actor: PersonFields | None = None,
) -> None:
    """Queue an event; it is written with the transaction's commit and vanishes with its rollback.
    The person behind the action is `person`, else `caller`'s (if a person acted)."""
    if person is None and caller is not None:
        person = caller.person
    session.info.setdefault(PENDING_KEY, []).append(
        PendingEvent(
            action,
            outcome,
            client_id,
            object_ref,
            request_id,
            details,
            datetime.now(UTC),
            **(actor or person_fields(person)),
        )
    )


# The columns a link's hash covers, besides the previous hash (the order here is not the order hashed).
CHAINED_FIELDS = (
    "seq",
    "occurred_at",
    "client_id",
    "action",
    "object_ref",
    "outcome",
    "request_id",
    "details",
)
# Hashed only when set: events of machine clients, and every event written before people existed, hash
# exactly as they did.
PERSON_FIELDS = ("actor", "actor_method", "actor_roles")


def canonical_record(values: Mapping[str, Any]) -> bytes:
    """The bytes a link hashes: its CHAINED_FIELDS as sorted, compact JSON, the time in UTC to the µs."""
    body = {name: values[name] for name in CHAINED_FIELDS}
    body.update({name: values[name] for name in PERSON_FIELDS if values.get(name) is not None})
    body["occurred_at"] = values["occurred_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_event(event: AuditEvent) -> bytes:
    return canonical_record({name: getattr(event, name) for name in (*CHAINED_FIELDS, *PERSON_FIELDS)})


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical).hexdigest()


async def append_pending_events(session: AsyncSession) -> int:
    pending: list[PendingEvent] = session.info.pop(PENDING_KEY, [])
    if not pending:
        return 0
    head = await session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:
        raise RuntimeError("audit head missing: the database is not migrated")
    events = link_events(head.seq, head.hash, pending)
    session.add_all(events)
    head.seq, head.hash = events[-1].seq, events[-1].hash
    await session.flush()
    return len(pending)


def link_rows(seq: int, prev: str, pending: Sequence[PendingEvent]) -> list[dict[str, Any]]:
    """The links that follow the head (seq, prev) as plain column values: numbered in order, each hashing
    the one before. Plain values, not ORM objects: the group-commit writer inserts them as they are."""
    rows = []
    for item in pending:
        seq += 1
        row = {"seq": seq, **{name: getattr(item, name) for name in (*CHAINED_FIELDS[1:], *PERSON_FIELDS)}}
        row["prev_hash"] = prev
        row["hash"] = prev = chain_hash(prev, canonical_record(row))
        rows.append(row)
    return rows


def link_events(seq: int, prev: str, pending: Sequence[PendingEvent]) -> list[AuditEvent]:
    return [AuditEvent(**row) for row in link_rows(seq, prev, pending)]


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    checked: int
    broken_at: int | None = None
    reason: str | None = None


async def stream_events(
    session: AsyncSession, batch: int = 5000, after: int = 0
) -> AsyncIterator[AuditEvent]:
    last = after
    while True:
        rows = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].seq
        session.expunge_all()


async def verify_chain(session: AsyncSession) -> ChainReport:
    """Walk the chain in sequence order from where it starts (genesis, or the last purged event); name the
    first event whose link does not hold."""
    anchor = await session.scalar(select(AuditHead).where(AuditHead.id == 1))
    base_seq, base_hash = (anchor.base_seq, anchor.base_hash) if anchor is not None else (0, GENESIS_HASH)
    expected_seq, prev, checked = base_seq + 1, base_hash, 0
    async for event in stream_events(session, after=base_seq):
        if event.seq != expected_seq:
            return ChainReport(False, checked, expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev:
            return ChainReport(False, checked, event.seq, "does not link to the previous event")
        if chain_hash(prev, canonical_event(event)) != event.hash:
            return ChainReport(False, checked, event.seq, "content does not match its hash")
        prev, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    head = await session.scalar(select(AuditHead).where(AuditHead.id == 1))
    if head is None or head.seq != expected_seq - 1 or head.hash != prev:
        return ChainReport(False, checked, expected_seq, "events after this point were removed")
    return ChainReport(True, checked)


def record_request_event(
    request: Request,
    session: AsyncSession,
    action: str,
    *,
    object_ref: str,
    details: dict[str, Any] | None = None,
    client_id: str | None = None,
) -> None:
    """record_event for a request: the caller (unless named) and the request id come from the request."""
    principal = getattr(request.state, "principal", None)
    record_event(
        session,
        action,
        client_id=client_id or (principal.client_id if principal else None),
        object_ref=object_ref,
        request_id=request_id_of(request),
        details=details,
        caller=principal,
    )


async def purge_events(session: AsyncSession, before: datetime) -> int:
    """Remove the events that occurred before `before` (a retention purge) and keep the chain verifiable.

    Only a prefix of the chain is removed: the newest removed event becomes the anchor (base_seq, base_hash)
    that the first kept event links to. The purge itself is an audit event. On PostgreSQL the table's trigger
    still refuses to delete anything younger than 183 days, whatever the caller asks.
    """
    head = await session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:
        raise RuntimeError("audit head missing: the database is not migrated")
    # The longest prefix of the kept chain whose events are all older than `before`.
    first_kept = await session.scalar(
        select(func.min(AuditEvent.seq)).where(
            AuditEvent.seq > head.base_seq, AuditEvent.occurred_at >= before
        )
    )
    through = (first_kept - 1) if first_kept is not None else head.seq
    if through <= head.base_seq:
        return 0
    last = (
        await session.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq == through))
    ).one()
    removed = await session.execute(delete(AuditEvent).where(AuditEvent.seq <= last.seq))
    count = int(getattr(removed, "rowcount", 0) or 0)
    head.base_seq, head.base_hash = last.seq, last.hash
    await session.flush()
    record_event(
        session,
        "audit.purged",
        object_ref=f"audit:{last.seq}",
        details={"through_seq": last.seq, "removed": count, "before": before.isoformat()},
    )
    return count
