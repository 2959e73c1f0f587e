"""Group commit for audit events of read-only actions (verifications).

A verification writes nothing but its audit event. Appending each one in a transaction of its own would
serialise every verification on the chain-head lock and a commit (an fsync on PostgreSQL). Instead, events
queue here and one writer task appends everything queued so far in one transaction: the lock and the fsync
are paid once per batch. A caller's `append` returns only once its events are committed, so an answer is
never sent for a verification whose audit event could still be lost.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from sqlalchemy import insert, select, update

from app.audit.service import PendingEvent, link_rows
from app.db import Transactions
from app.models import AuditEvent, AuditHead


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
            head = (
                await conn.execute(
                    select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
                )
            ).one()
            rows = link_rows(head.seq, head.hash, pending)
            await conn.execute(insert(AuditEvent), rows)
            await conn.execute(
                update(AuditHead).where(AuditHead.id == 1).values(seq=rows[-1]["seq"], hash=rows[-1]["hash"])
            )
