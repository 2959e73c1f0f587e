"""Group commit for audit events of read-only actions (verifications).

A verification writes nothing but its audit event. Appending each one in a transaction of its own would
serialise every verification on the chain-head lock and a commit (an fsync on PostgreSQL). Instead, events
queue here and one writer task appends everything queued so far in one transaction: the lock and the fsync
are paid once per batch. A caller's `append` returns only once its events are committed, so an answer is
never sent for a verification whose audit event could still be lost.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import CHAINED_FIELDS, PERSON_FIELDS, PendingEvent, link_rows
from app.db import Transactions, driver_connection
from app.models import AuditEvent, AuditHead

LOCK_HEAD = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
MOVE_HEAD = (
    update(AuditHead).where(AuditHead.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
# One array per column, in LINK_COLUMNS' order. JSON goes as text and is cast: the codec SQLAlchemy puts on
# its connections takes text too.
LINK_COLUMNS = (*CHAINED_FIELDS, "prev_hash", "hash", *PERSON_FIELDS)
INSERT_LINKS_SQL = """
INSERT INTO audit_events
    (seq, occurred_at, client_id, action, object_ref, outcome, request_id, details, prev_hash, hash,
     actor, actor_method, actor_roles)
SELECT * FROM unnest(
    $1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[]::jsonb[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[]
)
"""
MOVE_HEAD_SQL = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1"


class AuditWriter:
    def __init__(self, transactions: Transactions, max_batch: int = 1000) -> None:
        self.transactions, self.max_batch = transactions, max_batch
        self.queue: deque[tuple[Sequence[PendingEvent], asyncio.Future[None]]] = deque()
        self.task: asyncio.Task[None] | None = None

    async def append(self, events: Sequence[PendingEvent]) -> None:
        """Wait until `events` are committed to the chain (raises what the commit raised)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue.append((events, future))
        if self.task is None or self.task.done():
            # The writer runs as its own task: a caller that is cancelled (client gone) cannot strand the
            # others waiting on the batch it would have written.
            self.task = asyncio.create_task(self.drain())
        await asyncio.shield(future)

    async def flush(self) -> None:
        """Write everything still queued and wait for it (shutdown): events of requests cancelled mid-wait
        (their client gone, or the grace period over) are still committed before the process exits."""
        if self.queue and (self.task is None or self.task.done()):
            self.task = asyncio.create_task(self.drain())
        if self.task is not None:
            await self.task

    async def drain(self) -> None:
        while self.queue:
            batch: list[tuple[Sequence[PendingEvent], asyncio.Future[None]]] = []
            taken = 0
            while self.queue and (not batch or taken + len(self.queue[0][0]) <= self.max_batch):
                events, future = self.queue.popleft()
                batch.append((events, future))
                taken += len(events)
            try:
                await self.write([event for events, _ in batch for event in events])
            except Exception as exc:  # every waiter learns of the failure; none is left hanging
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def write(self, pending: Sequence[PendingEvent]) -> None:
        if not pending:
            return
        async with self.transactions() as conn:
            # Through SQLAlchemy, whose asyncpg adapter opens the transaction only with its first statement:
            # the lock is held, and what follows commits or rolls back with it.
            head = (await conn.execute(LOCK_HEAD)).one()
            rows = link_rows(head.seq, head.hash, pending)
            if conn.dialect.driver == "asyncpg":
                await write_on_driver(conn, rows)
                return
            await conn.execute(insert(AuditEvent), rows)
            await conn.execute(MOVE_HEAD, {"new_seq": rows[-1]["seq"], "new_hash": rows[-1]["hash"]})


async def write_on_driver(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """The links and the new head on asyncpg itself, in `conn`'s open transaction, one array per column.

    Through SQLAlchemy, binding each link's ten values one by one cost about as much as the look-up that the
    verification it records had made; asyncpg encodes each column's array in one go.
    """
    async with driver_connection(conn) as raw:
        # A statement sent here before SQLAlchemy's first would run outside any transaction, in autocommit.
        if not raw.is_in_transaction():
            raise RuntimeError("the audit links must be written inside the head lock's transaction")
        columns = {name: [row[name] for row in rows] for name in LINK_COLUMNS}
        # As SQLAlchemy's JSON type binds it, None included (JSON null).
        columns["details"] = [json.dumps(details) for details in columns["details"]]
        await raw.execute(INSERT_LINKS_SQL, *columns.values())
        await raw.execute(MOVE_HEAD_SQL, rows[-1]["seq"], rows[-1]["hash"])
