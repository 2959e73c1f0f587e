"""Import jobs as real work: a background job reported from the database, and a killed import process that
leaves nothing behind and can be run again (PostgreSQL, a real subprocess)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

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
    if engine.dialect.name != "postgresql":
        pytest.skip("needs a second process watching the commit's progress: PostgreSQL")
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
            async with AsyncSession(engine) as session:
                job = await session.scalar(select(ImportJob).where(ImportJob.file_name == file.name))
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
