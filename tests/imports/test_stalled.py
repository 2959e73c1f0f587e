"""A job whose worker died: found by its stale heartbeat, taken by exactly one of the workers that find it,
and the dead run's late writes no longer change its record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import create_sessionmaker
from app.imports.jobs import ImportDeps, claim_job, set_job_fields
from app.imports.stalled import find_stalled_jobs
from app.models import ImportJob
from app.privacy import PersonalDataVault
from app.settings import Settings


async def test_a_stalled_job_is_taken_by_one_worker_and_the_dead_run_is_fenced_off(
    engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    deps = ImportDeps.build(
        settings,
        sessionmaker=create_sessionmaker(engine),
        transactions=engine.begin,
        vault=PersonalDataVault.from_settings(settings),
        dialect=engine.dialect.name,
    )
    job_id = uuid.uuid4().hex
    async with AsyncSession(engine) as session:
        session.add(
            ImportJob(
                id=job_id,
                kind="title",
                mode="commit",
                on_error="abort",
                status="running",
                phase="commit",
                client_id="test-admin",
                file_sha256="0" * 64,
                file_name="stalled.csv",
                file_format="csv",
                file_path=str(tmp_path / "stalled.csv"),
                attempts=1,
                # The dead run's last beat, two stale periods ago.
                heartbeat_at=datetime.now(UTC) - 2 * deps.stale_after,
            )
        )
        await session.commit()
    try:
        assert job_id in await find_stalled_jobs(deps)
        async with AsyncSession(engine) as session:
            seen = await session.get(ImportJob, job_id)
        assert seen is not None
        # Two workers found it at the same time, from the same read: one run takes it.
        assert [await claim_job(deps, seen), await claim_job(deps, seen)] == [2, None]
        assert job_id not in await find_stalled_jobs(deps)  # its heartbeat is fresh again
        # The first run was only slow, not dead: what it writes now no longer counts.
        await set_job_fields(deps, job_id, 1, status="succeeded", inserted=5)
        async with AsyncSession(engine) as session:
            job = await session.get(ImportJob, job_id)
        assert job is not None
        assert (job.status, job.attempts, job.inserted) == ("running", 2, 0)
    finally:
        async with AsyncSession(engine) as session:
            await session.execute(delete(ImportJob).where(ImportJob.id == job_id))
            await session.commit()
