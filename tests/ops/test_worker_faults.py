"""A worker dies, or the service is stopped: real `huren serve` processes under concurrent verifications.

What a client holds is the proof: every 200 it received carries a receipt, and every receipt must have its
audit event (the event is committed before the answer is sent), whether a worker was SIGKILLed mid-traffic or
the service was stopped with SIGTERM while requests were in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.models import AuditEvent, AuditHead, Credential, ImportJob, RateLimitCounter
from app.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import title_payload
from tests.imports.test_import import flatten, to_csv
from tests.processes import HUREN, fetch_token, free_port, run_huren, wait_healthy

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
async def forget_counters(engine: AsyncEngine) -> AsyncIterator[None]:
    """The servers commit their rate-limit counters to the suite's database, where the in-process tests
    that follow (same address, same minute) would count them: gone with each test."""
    yield
    async with engine.begin() as conn:
        await conn.execute(delete(RateLimitCounter))


def node_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The test database's node: our settings only, rate limits out of the way of the load."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUREN_")}
    env.update(
        COLUMNS="200",
        HUREN_DATABASE_URL=settings.database_url,
        HUREN_DATA_KEY=settings.data_key.get_secret_value(),
        HUREN_IMPORT_DIR=str(settings.import_dir),
        HUREN_RATE_LIMIT_PER_MINUTE="1000000",
        HUREN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE="1000000",
        HUREN_LOG_LEVEL="warning",
    )
    env.update(extra)
    return env


@contextmanager
def running(
    env: dict[str, str], log_path: Path, workers: int
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    command = [*HUREN, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with log_path.open("w") as log:
        # A session of its own: the master and its workers are one process group, stopped together.
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, log_path, 60)
        yield process, base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
        # Workers outliving their master (it was killed) would go on serving, and running jobs, on this
        # database: none may survive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def worker_pids(master: int) -> list[int]:
    """The uvicorn workers: children of the master started by multiprocessing's spawn (not its tracker)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    found = []
    for pid in map(int, children):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except FileNotFoundError:
            continue
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            found.append(pid)
    return found


def ask() -> dict[str, str]:
    # A number of its own per request: the receipt's `ref` then names exactly one audit event.
    return {"kind": "title", "region": "SC", "number": f"FAULT-{secrets.token_hex(8)}", "name": "张三"}


@dataclass
class Tally:
    receipts: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    transport_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, answer: httpx.Response) -> None:
        with self.lock:
            self.statuses.append(answer.status_code)
            if answer.status_code == 200:
                self.receipts.append(answer.json()["receipt"])


def verify_until(base: str, token: str, tally: Tally, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while not stop.is_set():
            try:
                tally.record(client.post("/v1/verify", json=ask()))
            except httpx.TransportError:
                # The killed worker's requests in flight: the client sees the connection go, never an answer.
                with tally.lock:
                    tally.transport_errors += 1


async def refs_audited(engine: AsyncEngine, receipts: list[str]) -> tuple[set[str], set[str]]:
    """The receipts' references, and those of them that have a `credential.verified` event."""
    refs = {jwt.decode(r, options={"verify_signature": False})["ref"] for r in receipts}
    async with AsyncSession(engine) as session:
        found = set(
            (
                await session.scalars(
                    select(AuditEvent.object_ref).where(
                        AuditEvent.action == "credential.verified",
                        AuditEvent.object_ref.in_([f"ref:{ref}" for ref in refs]),
                    )
                )
            ).all()
        )
    return refs, {ref.removeprefix("ref:") for ref in found if ref is not None}


async def test_a_killed_worker_loses_no_audit_event_and_the_others_keep_serving(
    engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several workers writing under load: PostgreSQL")
    env = node_env(settings)
    with running(env, tmp_path / "serve.log", workers=2) as (master, base):
        token = fetch_token(base, "test-admin", TEST_SECRET, "verify")
        workers = worker_pids(master.pid)
        assert len(workers) == 2, workers
        tally, stop = Tally(), threading.Event()
        clients = [threading.Thread(target=verify_until, args=(base, token, tally, stop)) for _ in range(8)]
        for thread in clients:
            thread.start()
        await asyncio.sleep(1.5)
        # The chain's head held for a moment, as a slow commit (an fsync) would hold it: every verification
        # now waits for its event. A worker killed then must take its waiting requests down unanswered.
        async with engine.connect() as holder:
            await holder.execute(select(AuditHead.seq).where(AuditHead.id == 1).with_for_update())
            await asyncio.sleep(1)
            before_kill = len(tally.statuses)
            os.kill(workers[0], signal.SIGKILL)
            await asyncio.sleep(0.3)
            await holder.rollback()
        await asyncio.sleep(2.5)
        stop.set()
        for thread in clients:
            await asyncio.to_thread(thread.join)
        after_kill = len(tally.statuses) - before_kill
        survivors = worker_pids(master.pid)
    assert min(before_kill, after_kill) > 20, (before_kill, after_kill)
    assert workers[1] in survivors
    assert len(survivors) == 2, survivors  # the master started a worker in place of the dead one
    # Never a 5xx: a client of the dead worker loses its connection, nothing else.
    assert set(tally.statuses) == {200}, sorted(set(tally.statuses))
    assert tally.transport_errors <= len(clients), tally.transport_errors
    refs, audited = await refs_audited(engine, tally.receipts)
    assert len(refs) == len(tally.receipts)
    assert refs - audited == set(), f"{len(refs - audited)} of {len(refs)} receipts have no audit event"
    checked = run_huren(env, "audit", "verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def verify_once(base: str, token: str, answers: list[httpx.Response | Exception]) -> None:
    try:
        answers.append(
            httpx.post(f"{base}/v1/verify", json=ask(), headers={"Authorization": f"Bearer {token}"})
        )
    except httpx.HTTPError as exc:
        answers.append(exc)


async def until_audited(engine: AsyncEngine, since: datetime, count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        async with AsyncSession(engine) as session:
            done = await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "credential.verified", AuditEvent.occurred_at >= since)
            )
        if done is not None and done >= count:
            return
        await asyncio.sleep(0.02)
    pytest.fail("the requests never reached the server")


async def test_sigterm_finishes_the_requests_in_flight_with_their_audit_events(
    engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    # Every no_match answer waits for the floor (1 s here) after its event is committed: SIGTERM arrives while
    # all of them are in flight.
    env = node_env(settings, HUREN_VERIFY_NO_MATCH_FLOOR_MS="1000", HUREN_SHUTDOWN_GRACE_SECONDS="10")
    with running(env, tmp_path / "serve.log", workers=1) as (process, base):
        token = fetch_token(base, "test-admin", TEST_SECRET, "verify")
        answers: list[httpx.Response | Exception] = []
        clients = [threading.Thread(target=verify_once, args=(base, token, answers)) for _ in range(8)]
        since = datetime.now(UTC)
        for thread in clients:
            thread.start()
        # Each request's event committed: all of them are now waiting out the floor, in flight.
        await until_audited(engine, since, len(clients))
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        for thread in clients:
            await asyncio.to_thread(thread.join)
        code = await asyncio.to_thread(process.wait, 15)
        took = time.monotonic() - stopped_at
    # uvicorn raises the signal it caught again once shut down: killed by SIGTERM, after a clean shutdown.
    assert code in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()[-2000:]
    assert took < 10 + 5, took
    statuses: list[Any] = [a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers]
    assert statuses == [200] * len(clients), statuses
    receipts = [a.json()["receipt"] for a in answers if isinstance(a, httpx.Response)]
    refs, audited = await refs_audited(engine, receipts)
    assert refs - audited == set()
    checked = run_huren(env, "audit", "verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def holder_of(path: str, pids: list[int]) -> int | None:
    """The worker that has `path` open (the job's upload, read while its run validates and commits)."""
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == path:
                    return pid
            except FileNotFoundError:
                continue
    return None


async def test_an_import_of_a_killed_worker_is_run_again_by_another_without_duplicates(
    engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a second worker watching the commit's progress: PostgreSQL")
    rows = [flatten(title_payload()) for _ in range(40_000)]
    numbers = [r["number"] for r in rows]
    env = node_env(
        settings,
        HUREN_IMPORT_STALE_SECONDS="5",
        HUREN_IMPORT_INLINE_BYTES="0",
        HUREN_IMPORT_BATCH_ROWS="200",
        HUREN_IMPORT_DIR=str(tmp_path / "imports"),
    )

    async def job_row(job_id: str) -> ImportJob:
        async with AsyncSession(engine) as session:
            job = await session.get(ImportJob, job_id)
        assert job is not None
        return job

    with running(env, tmp_path / "serve.log", workers=2) as (master, base):
        token = fetch_token(base, "test-admin", TEST_SECRET, "registry:write")
        auth = {"Authorization": f"Bearer {token}"}
        http = httpx.AsyncClient(base_url=base, headers=auth, timeout=60)
        started = await http.post(
            "/v1/imports",
            params={"kind": "title", "mode": "commit"},
            files={"file": ("big.csv", to_csv("title", rows), "text/csv")},
            headers={"Idempotency-Key": f"kill-{time.time_ns()}"},
        )
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        deadline = time.monotonic() + 120
        while True:
            job = await job_row(job_id)
            if job.phase == "commit" and job.processed_rows >= 1000:
                break
            assert job.status == "running" or job.status == "queued", job.status
            assert time.monotonic() < deadline, "the import never reached its commit phase"
            await asyncio.sleep(0.02)
        victim = holder_of(job.file_path, worker_pids(master.pid))
        assert victim is not None, "no worker holds the job's file"
        os.kill(victim, signal.SIGKILL)
        # Still `running` for a moment, then `stalled` (its heartbeat stopped), then run again by a live
        # worker (the survivor, or the one the master starts in place of the dead one).
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = await http.get(f"/v1/imports/{job_id}")
            except httpx.TransportError:  # the connection was the killed worker's: a client tries again
                await asyncio.sleep(0.2)
                continue
            assert answer.status_code == 200, answer.text
            if answer.json()["status"] not in ("queued", "running"):
                break
            assert time.monotonic() < deadline, f"the job stayed {answer.json()}"
            await asyncio.sleep(0.2)
        await http.aclose()
    job = await job_row(job_id)
    assert (job.status, job.total_rows, job.rejected) == ("succeeded", len(rows), 0), job.problem
    # The killed run's rows were rolled back with its connection: the second run inserted every row.
    assert (job.inserted, job.updated, job.unchanged, job.attempts) == (len(rows), 0, 0, 2)
    async with AsyncSession(engine) as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(Credential)
            .where(Credential.number.between(numbers[0], numbers[-1]))
        )
        committed = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "import.committed", AuditEvent.object_ref == f"import:{job_id}")
        )
    assert (stored, committed) == (len(rows), 1)
    assert not await asyncio.to_thread(
        Path(job.file_path).exists
    )  # the upload (ID numbers in clear) is gone once the job ended
