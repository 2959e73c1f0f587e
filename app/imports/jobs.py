"""Import jobs: creating one for an upload, running it, and recording its progress and outcome.

Who commits: this module, and nothing else in app.imports. Every transaction of an import is opened and
committed (or rolled back) here:
- the job and its `import.created` event (`create_job`);
- the rows and the `import.committed` event, in ONE transaction (`commit_rows`): the committers
  (app.imports.committer) and the validation pass only write or read in the sessions they are given;
- the job's progress, outcome and row errors, each a short side transaction (`deps.transactions`).
The routes, `huren import` (app.imports.cli_run) and the demo loader call these functions and commit nothing
of an import themselves.

A job runs two passes over the stored file: validation (app.imports.validation_pass), then, for mode=commit,
the commit of its clean rows by the strategy app.imports.commit_choice picks. A worker that dies mid-commit
leaves nothing of the job, and running the job again is safe (the upserts are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict, Unpack

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.audit.service import PersonFields, append_pending_events, person_fields, record_event
from app.db import READ_ONLY, Transactions, create_sessionmaker
from app.errors import AppError, NotFound
from app.imports.catalogue_pass import CataloguePass
from app.imports.commit_choice import choose_committer
from app.imports.committer import Committer, Counts
from app.imports.disk_space import disk_full_problem, is_disk_full, log_disk_full
from app.imports.parsing import ImportFileError
from app.imports.scratch import read_blocks
from app.imports.uploads import StoredFile
from app.imports.validation import RowError
from app.imports.validation_pass import ProgressHook, ValidationPass
from app.models import ImportJob, ImportRowError
from app.privacy import PersonalDataVault
from app.settings import Settings

logger = logging.getLogger(__name__)

# Batches of clean rows per COPY chunk on PostgreSQL (a progress step); a COPY per batch costs round trips.
COPY_CHUNK_BATCHES = 10
PROGRESS_SECONDS = 0.25  # at most this often a job's progress is written (per phase)


@dataclass(frozen=True)
class ImportDeps:
    """What running a job needs; built from the app's state or by the CLI."""

    sessionmaker: async_sessionmaker[AsyncSession]
    transactions: Transactions
    vault: PersonalDataVault
    batch_rows: int
    max_rows: int
    stale_after: timedelta
    dialect: str
    held_regions: frozenset[str] | None = None
    # Sessions on connections of their own, so the streamed commit can run beside validation's reads; tests
    # bind every session to one connection, where it waits for each chunk instead.
    own_connections: bool = True
    pool_size: int = 10
    stream_max_bytes: int = 256 * 1024**2
    # Told when an import of the shortage catalogue has committed: this process's index reloads at once.
    catalogue_changed: Callable[[], None] | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        transactions: Transactions,
        vault: PersonalDataVault,
        dialect: str,
        own_connections: bool = True,
        catalogue_changed: Callable[[], None] | None = None,
    ) -> ImportDeps:
        return cls(
            own_connections=own_connections,
            catalogue_changed=catalogue_changed,
            pool_size=settings.db_pool_size,
            stream_max_bytes=settings.import_stream_max_bytes,
            sessionmaker=sessionmaker,
            transactions=transactions,
            vault=vault,
            batch_rows=settings.import_batch_rows,
            max_rows=settings.import_max_rows,
            stale_after=timedelta(seconds=settings.import_stale_seconds),
            dialect=dialect,
            held_regions=frozenset(settings.regions),
        )


class IdempotencyKeyReused(AppError):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency-Key reused"


class ImportInProgress(AppError):
    status, slug, title = 409, "import-in-progress", "An import with this key is running"


def job_actor(job: ImportJob) -> PersonFields:
    return {"actor": job.actor, "actor_method": job.actor_method, "actor_roles": job.actor_roles}


def is_stale(job: ImportJob, stale_after: timedelta) -> bool:
    beat = job.heartbeat_at or job.created_at
    return job.status in ("queued", "running") and datetime.now(UTC) - beat > stale_after


class JobRequest(TypedDict):
    """What an upload asks for: open_job's keyword arguments."""

    client_id: str
    actor: PersonFields | None
    kind: str
    mode: str
    on_error: str
    idempotency_key: str | None
    stored: StoredFile
    file_name: str
    file_format: str
    charset: str | None
    default_region: str | None


async def create_job(deps: ImportDeps, **request: Unpack[JobRequest]) -> tuple[ImportJob, bool]:
    """`open_job` in a transaction of its own, committed before any worker can run the job."""
    async with deps.sessionmaker() as session:
        job, created = await open_job(session, deps, **request)
        await append_pending_events(session)
        await session.commit()
    return job, created


async def open_job(
    session: AsyncSession,
    deps: ImportDeps,
    *,
    client_id: str,
    actor: PersonFields | None,
    kind: str,
    mode: str,
    on_error: str,
    idempotency_key: str | None,
    stored: StoredFile,
    file_name: str,
    file_format: str,
    charset: str | None,
    default_region: str | None,
) -> tuple[ImportJob, bool]:
    """The job for this upload: a new one, or the original when the same key brings the same file again.
    Flushes only: the caller commits (create_job does)."""
    if idempotency_key:
        existing = await session.scalar(
            select(ImportJob).where(
                ImportJob.client_id == client_id, ImportJob.idempotency_key == idempotency_key
            )
        )
        if existing is not None:
            stored.path.unlink(missing_ok=True)
            if (existing.file_sha256, existing.kind, existing.mode) != (stored.sha256, kind, mode):
                raise IdempotencyKeyReused("this Idempotency-Key was used for another file or request")
            if existing.status in ("queued", "running") and not is_stale(existing, deps.stale_after):
                raise ImportInProgress(
                    "the import with this Idempotency-Key is still running", job_id=existing.id
                )
            return existing, False
    job_id = uuid.uuid4().hex
    final_path = stored.path.with_name(f"{job_id}.{file_format}")
    job = ImportJob(
        id=job_id,
        kind=kind,
        mode=mode,
        on_error=on_error,
        status="queued",
        client_id=client_id,
        **(actor or person_fields(None)),
        idempotency_key=idempotency_key,
        file_sha256=stored.sha256,
        file_name=file_name[:255],
        file_format=file_format,
        file_path=str(final_path),
        charset=charset,
        default_region=default_region,
        heartbeat_at=datetime.now(UTC),
    )
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:
        stored.path.unlink(missing_ok=True)
        raise ImportInProgress("another request with this Idempotency-Key is being handled") from None
    stored.path.rename(final_path)
    record_event(
        session,
        "import.created",
        client_id=client_id,
        actor=actor,
        object_ref=f"import:{job_id}",
        details={"kind": kind, "mode": mode, "on_error": on_error},
    )
    return job, True


async def set_job_fields(deps: ImportDeps, job_id: str, run: int | None = None, **values: Any) -> None:
    """Write the job's fields; with `run`, only while that run (its `attempts` number) still owns the job:
    a run that another worker has taken over from, taking it for dead, no longer writes the job's record."""
    statement = update(ImportJob).where(ImportJob.id == job_id)
    if run is not None:
        statement = statement.where(ImportJob.attempts == run)
    async with deps.transactions() as conn:
        await conn.execute(statement.values(**values))


async def claim_job(deps: ImportDeps, job: ImportJob) -> int | None:
    """Take the job for a run of this process: its `attempts` goes up by one, only if nobody else's run took
    it since `job` was read (two workers finding the same stalled job: one of them runs it). The run's
    number, or None when another run has it."""
    now = datetime.now(UTC)
    run = job.attempts + 1
    async with deps.transactions() as conn:
        claimed = await conn.execute(
            update(ImportJob)
            .where(ImportJob.id == job.id, ImportJob.attempts == job.attempts)
            .values(
                status="running",
                phase="validate",
                started_at=now,
                heartbeat_at=now,
                attempts=run,
                processed_rows=0,
                problem=None,
            )
        )
    return run if claimed.rowcount == 1 else None


# Jobs running in this process: the stalled-job watcher never takes over one of its own process's runs.
RUNNING_HERE: set[str] = set()


async def beat(deps: ImportDeps, job_id: str, run: int, stop: asyncio.Event) -> None:
    """The run's heartbeat, whatever its phase: a long commit statement writes no progress for a while, and
    must not be taken for a dead worker's. Ends when `stop` is set, never in the middle of a write."""
    every = max(1.0, deps.stale_after.total_seconds() / 4)
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
            return
        try:
            await set_job_fields(deps, job_id, run, heartbeat_at=datetime.now(UTC))
        except (SQLAlchemyError, OSError) as exc:  # the next beat tries again; the run goes on
            logger.warning("import %s: heartbeat not written: %s", job_id, exc)


def progress_writer(
    deps: ImportDeps, job_id: str, run: int, on_progress: ProgressHook | None
) -> ProgressHook:
    """The job's progress hook: the caller's (a progress bar) at every step, the job record at most every
    PROGRESS_SECONDS per phase."""
    written: dict[str, float] = {}  # phase -> when its progress was last written

    async def progress(phase: str, rows: int) -> None:
        if on_progress is not None:
            await on_progress(phase, rows)
        # SQLite has one writer: while the commit transaction holds it, progress stays in memory. Only the
        # commit's step 0 is written, before its transaction begins (stream_rows, load_rows): the job then
        # shows the phase it is in. (A later step, such as the catalogue's, runs inside the transaction.)
        if phase == "commit" and deps.dialect == "sqlite" and (rows or phase in written):
            return
        # A write per batch was a transaction every 2,000 rows; a reader polling the job needs less.
        now = time.monotonic()
        if now - written.get(phase, -PROGRESS_SECONDS) < PROGRESS_SECONDS:
            return
        written[phase] = now
        await set_job_fields(
            deps, job_id, run, phase=phase, processed_rows=rows, heartbeat_at=datetime.now(UTC)
        )

    return progress


async def run_job(deps: ImportDeps, job_id: str, on_progress: ProgressHook | None = None) -> ImportJob:
    """Run (or run again) both passes of a job and record the outcome. Never raises for the file's content."""
    async with deps.sessionmaker() as session:
        job = await session.get(ImportJob, job_id)
        if job is None:
            raise NotFound("no such import")
        session.expunge(job)
    run = await claim_job(deps, job)
    if run is None:  # another worker's run took it first
        return job
    RUNNING_HERE.add(job_id)
    # Not on a test's single connection, which the heartbeat's side transactions would interleave with.
    stop = asyncio.Event()
    heartbeat = asyncio.create_task(beat(deps, job_id, run, stop)) if deps.own_connections else None
    try:
        return await run_claimed(deps, job, run, on_progress)
    finally:
        RUNNING_HERE.discard(job_id)
        if heartbeat is not None:
            # Stopped, not cancelled: on SQLite its write may be waiting for the write lock this run's
            # commit has just released. Cancelled there, it can leave its connection holding that lock (the
            # next writer then fails with "database is locked"; seen once in a loaded test run) or keep
            # `huren import` from exiting (seen too). Shielded: if this run is cancelled meanwhile, the
            # heartbeat still ends by itself.
            stop.set()
            await asyncio.shield(heartbeat)


async def run_claimed(
    deps: ImportDeps, job: ImportJob, run: int, on_progress: ProgressHook | None
) -> ImportJob:
    job_id = job.id
    progress = progress_writer(deps, job_id, run, on_progress)
    scan: ValidationPass | CataloguePass
    if job.kind == "catalogue":
        scan = CataloguePass(job, Path(job.file_path), deps.sessionmaker, deps.max_rows, progress)
    else:
        scan = ValidationPass(
            job,
            Path(job.file_path),
            # Validation only reads. On SQLite its transactions take no write lock: a streamed commit holds
            # that lock from its first row on, and would otherwise wait for validation that waits for it.
            read_only_sessions(deps.sessionmaker) if deps.dialect == "sqlite" else deps.sessionmaker,
            deps.vault,
            deps.batch_rows,
            deps.max_rows,
            progress,
            held_regions=deps.held_regions,
        )
    counts, status, problem = Counts(), "succeeded", None
    try:
        if job.mode != "commit":
            await scan.validate()
        elif isinstance(scan, CataloguePass):
            counts = await validate_and_store_catalogue(deps, scan)
        else:
            counts = await validate_and_commit(deps, scan)
        if job.mode == "commit" and scan.tally.rejected_rows and job.on_error != "skip":
            status = "failed"
            problem = {
                "code": "import.rows_rejected",
                "status": 422,
                "message": "rows were rejected; nothing was stored (on_error=skip stores the valid rows)",
            }
    except ImportFileError as exc:
        status = "failed"
        problem = {
            "code": exc.code,
            "status": exc.status,
            "message": exc.message,
            "row": exc.row,
            "column": exc.column,
        }
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        # The commit is one transaction, rolled back by the committer: the job fails, and running it again
        # cannot help until space is freed, so its files go too (below).
        log_disk_full(f"import {job_id}")
        status, counts = "failed", Counts()
        problem = disk_full_problem()
    finally:
        scan.scratch_path().unlink(missing_ok=True)
    # The upload holds ID numbers in clear: it is kept only while its job may still need to run. A worker that
    # dies never gets here, so a stalled job keeps its file and can be resumed.
    scan.path.unlink(missing_ok=True)
    await save_errors(deps, job_id, scan.errors)
    await set_job_fields(
        deps,
        job_id,
        run,
        status=status,
        phase=None,
        problem=problem,
        finished_at=datetime.now(UTC),
        heartbeat_at=datetime.now(UTC),
        total_rows=scan.tally.total,
        processed_rows=scan.tally.total,
        rejected=len(scan.tally.rejected_rows),
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
    )
    async with deps.sessionmaker() as session:
        finished = await session.get(ImportJob, job_id)
        assert finished is not None
        return finished


async def validate_and_commit(deps: ImportDeps, scan: ValidationPass) -> Counts:
    """Validation, then all clean rows in one transaction, committed only if no row was rejected (or, with
    on_error=skip, with the valid rows). Counts stay zero when nothing was stored."""
    chunk_rows = COPY_CHUNK_BATCHES * deps.batch_rows
    with choose_committer(
        dialect=deps.dialect,
        on_error=scan.job.on_error,
        file_size=scan.path.stat().st_size,
        stream_max_bytes=deps.stream_max_bytes,
        pool_size=deps.pool_size,
        chunk_rows=chunk_rows,
        overlap=deps.own_connections,
        job_id=scan.job.id,
    ) as committer:
        async with deps.sessionmaker() as session:
            if committer.streams:
                counts = await stream_rows(session, committer, scan)
            else:
                counts = await load_rows(session, committer, scan)
            if counts is None:
                await session.rollback()
                return Counts()
            await commit_rows(session, scan.job, counts)
            return counts


def read_only_sessions(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """Sessions of the same engine whose transactions begin deferred on SQLite (app.db.READ_ONLY): in WAL
    mode they read the last committed state beside a writer, and take no write lock."""
    bind = sessionmaker.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        return sessionmaker
    return create_sessionmaker(bind.execution_options(**{READ_ONLY: True}))


async def validate_and_store_catalogue(deps: ImportDeps, scan: CataloguePass) -> Counts:
    """As validate_and_commit, for the catalogue's rows: stored with the import's event in one transaction,
    then this process's catalogue index told (other processes reload theirs within their refresh period)."""
    await scan.validate()
    if scan.tally.rejected_rows and scan.job.on_error != "skip":
        return Counts()
    async with deps.sessionmaker() as session:
        counts = await scan.store(session)
        await commit_rows(session, scan.job, counts)
    if deps.catalogue_changed is not None:
        deps.catalogue_changed()
    return counts


async def stream_rows(session: AsyncSession, committer: Committer, scan: ValidationPass) -> Counts | None:
    """Both passes as one: clean rows written while validation goes on. The job shows one phase, `commit`,
    counting the rows validated and fed. None when a row was rejected: then nothing may be stored."""
    await scan.progress("commit", 0)
    await committer.begin(session)
    try:
        await scan.validate(sink=committer.write, phase="commit")
        if scan.tally.rejected_rows:
            # The report is validation's (a chunk holding a repeated number may also have failed in the
            # database, which changes nothing).
            await committer.abandon(wait=True)
            return None
        return await committer.finish()
    except ImportFileError:
        await committer.abandon(wait=True)  # the file's own fault (row cap, bad encoding): roll back cleanly
        raise
    except BaseException:
        await committer.abandon(wait=False)
        raise


async def load_rows(session: AsyncSession, committer: Committer, scan: ValidationPass) -> Counts | None:
    """Validation first; then the scratch file's clean rows, unless a row was rejected (on_error=abort)."""
    await scan.validate()
    if scan.tally.rejected_rows and scan.job.on_error != "skip":
        return None
    await scan.progress("commit", 0)
    await committer.begin(session)
    block_bytes = committer.block_rows * 256  # scratch lines are ~250 bytes
    done = 0
    try:
        for block, rows in read_blocks(scan.scratch_path(), scan.tally.rejected_rows, block_bytes):
            await committer.write(block, rows)
            done += rows
            await scan.progress("commit", done)
        return await committer.finish()
    except BaseException:
        await committer.abandon(wait=True)
        raise


async def commit_rows(session: AsyncSession, job: ImportJob, counts: Counts) -> None:
    """The import's audit event, then the commit that stores the rows and the event together."""
    record_event(
        session,
        "import.committed",
        client_id=job.client_id,
        actor=job_actor(job),
        object_ref=f"import:{job.id}",
        details={
            "kind": job.kind,
            "inserted": counts.inserted,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
        },
    )
    await append_pending_events(session)
    await session.commit()


async def save_errors(deps: ImportDeps, job_id: str, errors: list[RowError]) -> None:
    """Written in row order: app.imports.reports pages them by id."""
    async with deps.transactions() as conn:
        await conn.execute(delete(ImportRowError).where(ImportRowError.job_id == job_id))
        rows = [
            {"job_id": job_id, "row": e.row, "column": e.column, "code": e.code, "message": e.message}
            for e in sorted(errors, key=lambda e: (e.row or 0, e.column or ""))
        ]
        for start in range(0, len(rows), 5000):
            await conn.execute(insert(ImportRowError), rows[start : start + 5000])
