"""What the console reads of imports: the jobs newest first, and a job's errors page by page.

Both are keyset pages, so the 1,000th page of a 100,000-error report costs what the first does: errors are
written in row order (jobs.save_errors), so their id order is their row order and (job_id, id) is indexed;
jobs are listed by (created_at, id), also indexed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cursors import decode_after_id, decode_cursor, encode_cursor, not_ours
from app.models import ImportJob, ImportRowError


def after_error_id(cursor: str | None) -> int:
    return decode_after_id(cursor) if cursor else 0


async def page_errors(
    session: AsyncSession, job_id: str, *, after: int, limit: int
) -> tuple[Sequence[ImportRowError], str | None]:
    """One page of a job's errors in row order; the cursor of the next page, or None after the last."""
    found = (
        await session.scalars(
            select(ImportRowError)
            .where(ImportRowError.job_id == job_id, ImportRowError.id > after)
            .order_by(ImportRowError.id)
            .limit(limit + 1)
        )
    ).all()
    if len(found) > limit:
        return found[:limit], encode_cursor({"after": found[limit - 1].id})
    return found, None


async def count_errors(session: AsyncSession, job_id: str) -> int:
    total = await session.scalar(
        select(func.count()).select_from(ImportRowError).where(ImportRowError.job_id == job_id)
    )
    return total or 0


async def stream_errors(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: str, chunk: int = 5000
) -> AsyncIterator[Sequence[ImportRowError]]:
    """Every error of a job, a chunk at a time: the full CSV report without holding it in memory."""
    after = 0
    async with sessionmaker() as session:
        while True:
            found, cursor = await page_errors(session, job_id, after=after, limit=chunk)
            if found:
                yield found
            if cursor is None:
                return
            after = found[-1].id


async def page_jobs(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> tuple[Sequence[ImportJob], str | None]:
    """Jobs newest first."""
    query = select(ImportJob).order_by(ImportJob.created_at.desc(), ImportJob.id.desc()).limit(limit + 1)
    if cursor:
        last = decode_cursor(cursor, "at", "id")
        try:
            at, job_id = datetime.fromisoformat(str(last["at"])), str(last["id"])
            if at.tzinfo is None:
                raise ValueError
            at = at.astimezone(UTC)  # an offset at the edge of the calendar overflows here, not in the query
        except (ValueError, OverflowError):
            raise not_ours() from None
        query = query.where(
            or_(ImportJob.created_at < at, and_(ImportJob.created_at == at, ImportJob.id < job_id))
        )
    found = (await session.scalars(query)).all()
    if len(found) > limit:
        last_job = found[limit - 1]
        return found[:limit], encode_cursor({"at": last_job.created_at.isoformat(), "id": last_job.id})
    return found, None
