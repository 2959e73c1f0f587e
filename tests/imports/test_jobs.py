"""Import jobs as real work: a background job reported from the database, and a killed import process that
leaves nothing behind and can be run again (a real subprocess)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import READ_ONLY
from app.main import create_app, start_services
from app.models import Credential, ImportJob
from app.services import HurenApp
from app.settings import Settings
from tests.conftest import bearer, mint_token
from tests.factories import title_payload
from tests.imports.test_import import flatten, to_csv


@pytest.fixture
async def job_app(settings: Settings, engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[HurenApp]:
    """The app on real connections with every upload run as a background job."""
    app = create_app(
        settings.model_copy(update={"import_inline_bytes": 0, "import_dir": tmp_path}), engine=engine
    )
    await start_services(app, engine)
    yield app
    await asyncio.gather(*app.services.import_tasks)
    await app.services.close(dispose_engine=False)


async def test_large_upload_runs_as_a_job(job_app: HurenApp, engine: AsyncEngine) -> None:
    rows = [flatten(title_payload()) for _ in range(30)]
    headers = {**bearer(mint_token(job_app, "test-admin", "registry:write")), "Idempotency-Key": "bg-1"}
    transport = httpx.ASGITransport(app=job_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as client:
        started = await client.post(
            "/v1/imports",
            params={"kind": "title", "mode": "commit"},
            files={"file": ("rows.csv", to_csv("title", rows), "text/csv")},
        )
        assert started.status_code == 202, started.text
        location = started.headers["location"]
        deadline = time.monotonic() + 30
        job = started.json()
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            job = (await client.get(location)).json()
    assert (job["status"], job["inserted"], job["total_rows"]) == ("succeeded", 30, 30)
    async with AsyncSession(engine) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Credential)
            .where(Credential.number.in_([r["number"] for r in rows]))
        )
    assert count == 30


async def test_killed_import_leaves_nothing_and_runs_again(
    engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    sqlite = engine.dialect.name == "sqlite"
    # SQLite: the job is read beside the import's write lock, by deferred transactions (app.db).
    reader = engine.execution_options(**{READ_ONLY: True}) if sqlite else engine
    rows = [flatten(title_payload()) for _ in range(40_000)]
    numbers = [r["number"] for r in rows]
    file = tmp_path / f"kill-{os.getpid()}-{time.time_ns()}.csv"
    file.write_bytes(to_csv("title", rows))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUREN_")}
    env.update(
        COLUMNS="200",
        HUREN_DATABASE_URL=settings.database_url,
        HUREN_IMPORT_DIR=str(tmp_path / "imports"),
        HUREN_IMPORT_BATCH_ROWS="200",
    )
    command = [sys.executable, "-m", "app.cli", "import", str(file), "--kind", "title"]

    async def stored() -> int:
        async with AsyncSession(engine) as session:
            return (
                await session.scalar(
                    # The factory numbers are consecutive, of one width: the range is this file exactly.
                    select(func.count())
                    .select_from(Credential)
                    .where(Credential.number.between(numbers[0], numbers[-1]))
                )
                or 0
            )

    # A real process, killed for real: blocking calls are fine in this test's own event loop.
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: ASYNC220
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            async with AsyncSession(reader) as session:
                job = await session.scalar(select(ImportJob).where(ImportJob.file_name == file.name))
            if job is not None and job.phase == "commit" and sqlite:
                # SQLite writes only the commit's first step (its progress then stays in memory, the write
                # lock being the import's): a few blocks of 2,000 rows go in meanwhile.
                await asyncio.sleep(0.5)
                assert process.poll() is None, "the import ended before it could be killed mid-commit"
                break
            if job is not None and job.phase == "commit" and job.processed_rows >= 1000:
                break
            assert process.poll() is None, "the import ended before it could be killed mid-commit"
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the import never reached its commit phase")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert await stored() == 0
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)  # noqa: ASYNC221
    assert again.returncode == 0, again.stdout[-2000:]
    assert await stored() == len(rows)
    once_more = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)  # noqa: ASYNC221
    assert once_more.returncode == 0
    assert await stored() == len(rows)
    # The third run's own summary: status, rows, inserted, updated, unchanged, rejected.
    assert re.search(rf"succeeded\W+{len(rows)}\W+0\W+0\W+{len(rows)}\W+0\W", once_more.stdout), (
        once_more.stdout
    )


async def test_a_streamed_commit_on_its_own_connections(
    settings: Settings, engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation and the commit side by side on connections of their own (on SQLite: validation's reads
    beside the write lock the commit holds), in many blocks: all or nothing, then idempotent."""
    from app.imports import jobs

    streamed: list[bool] = []
    stream_rows = jobs.stream_rows

    async def spy(session: AsyncSession, committer: Any, scan: Any) -> Any:
        streamed.append(committer.streams)
        return await stream_rows(session, committer, scan)

    monkeypatch.setattr(jobs, "stream_rows", spy)
    small = {"import_inline_bytes": 0, "import_dir": tmp_path, "import_batch_rows": 5}
    app = create_app(settings.model_copy(update=small), engine=engine)
    await start_services(app, engine)
    rows = [flatten(title_payload()) for _ in range(300)]
    numbers = [r["number"] for r in rows]
    headers = bearer(mint_token(app, "test-admin", "registry:write"))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
        ) as client:

            async def imported(file_rows: list[dict[str, Any]]) -> dict[str, Any]:
                started = await client.post(
                    "/v1/imports",
                    params={"kind": "title", "mode": "commit"},
                    files={"file": ("rows.csv", to_csv("title", file_rows), "text/csv")},
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                assert started.status_code == 202, started.text
                deadline = time.monotonic() + 60
                job: dict[str, Any] = started.json()
                while job["status"] in ("queued", "running") and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    job = (await client.get(started.headers["location"])).json()
                return job

            late_duplicate = [*rows[:-1], {**rows[-1], "number": rows[2]["number"]}]
            job = await imported(late_duplicate)
            assert (job["status"], job["rejected"]) == ("failed", 2), job
            assert await stored_count(engine, numbers) == 0
            job = await imported(rows)
            assert (job["status"], job["inserted"], job["updated"], job["unchanged"]) == (
                "succeeded",
                300,
                0,
                0,
            ), job
            changed = [*rows[:-1], {**rows[-1], "issued_on": "2022-06-02"}]
            job = await imported(changed)
            assert (job["status"], job["inserted"], job["updated"], job["unchanged"]) == (
                "succeeded",
                0,
                1,
                299,
            ), job
    finally:
        await asyncio.gather(*app.services.import_tasks)
        await app.services.close(dispose_engine=False)
    assert streamed == [True, True, True]
    assert await stored_count(engine, numbers) == 300


async def stored_count(engine: AsyncEngine, numbers: list[str]) -> int:
    async with AsyncSession(engine) as session:
        count = await session.scalar(
            select(func.count()).select_from(Credential).where(Credential.number.in_(numbers))
        )
    return int(count or 0)
