"""Import jobs whose worker died: found by their heartbeat and run again by a worker that is alive.

A job's run writes its heartbeat every quarter of `import_stale_seconds` (app.imports.jobs.beat). A job still
`queued` or `running` whose heartbeat is older than that has lost its worker (SIGKILL, an out-of-memory kill,
a host gone): every worker looks for such jobs now and then, and one of them (app.imports.jobs.claim_job
decides which) runs it again. Its commit was all-or-nothing and its upserts are idempotent: the rows a dead
run had half written were rolled back with its connection, and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import select

from app.imports import jobs
from app.models import ImportJob

logger = logging.getLogger(__name__)


async def find_stalled_jobs(deps: jobs.ImportDeps) -> list[str]:
    """Jobs that should be running and whose heartbeat says nobody runs them (not this process's own)."""
    async with deps.sessionmaker() as session:
        found = (
            await session.scalars(select(ImportJob).where(ImportJob.status.in_(("queued", "running"))))
        ).all()
    return [
        job.id for job in found if jobs.is_stale(job, deps.stale_after) and job.id not in jobs.RUNNING_HERE
    ]


class StalledJobWatcher:
    """Looks for stalled jobs at start and then every half stale period, and runs them in this process."""

    def __init__(self, deps: jobs.ImportDeps, tasks: set[asyncio.Task[Any]]) -> None:
        self.deps, self.tasks = deps, tasks
        self.every = max(1.0, deps.stale_after.total_seconds() / 2)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.watch())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def watch(self) -> None:
        while True:
            try:
                for job_id in await find_stalled_jobs(self.deps):
                    logger.warning("import %s: its worker stopped beating; running it again here", job_id)
                    self.resume(job_id)
            except Exception:  # the database away for a moment: look again next time
                logger.exception("looking for stalled imports failed")
            await asyncio.sleep(self.every)

    def resume(self, job_id: str) -> None:
        task = asyncio.create_task(jobs.run_job(self.deps, job_id))
        self.tasks.add(task)  # referenced until it ends, as the routes' background jobs are
        task.add_done_callback(self.tasks.discard)
