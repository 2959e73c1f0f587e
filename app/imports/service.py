"""Bulk import: every row checked as the registry endpoints check it, then committed all-or-nothing (or only
the valid rows with on_error=skip), with re-imports idempotent and changed rows versioned.

Two passes over the stored file. The first validates every row (domain rules, code tables, duplicates in the
file, holders registered under another name) and writes the clean rows, already in the staging table's shape,
to a scratch file; nothing is held per row in memory (the in-file duplicate keys go to a scratch SQLite index,
app.imports.seen). The second loads the scratch file and upserts it in ONE transaction, so a worker that dies
mid-commit leaves nothing of the job, and running the job again is safe. On PostgreSQL an all-or-nothing
commit of a file up to HUREN_IMPORT_STREAM_MAX_BYTES makes the two passes one: the clean rows are fed to that
one transaction while validation goes on (app.imports.set_based.StreamedUpsert).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import IO, Any, cast

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, String, any_, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import append_pending_events, record_event
from app.db import Transactions, driver_of
from app.errors import AppError, NotFound
from app.imports import batched
from app.imports.parsing import ImportFileError, ImportFormat, RawRow, iter_rows
from app.imports.rows import CleanRow, CodeTables, check_codes, check_row_fast, clean_from_model
from app.imports.seen import InFileKeys, Repeat
from app.imports.set_based import (
    INSERT_HOLDERS,
    INSERT_ISSUERS,
    UPSERT_CREDENTIALS,
    StreamedUpsert,
    open_staging,
    stage_chunk,
)
from app.imports.staging import (
    encode_line,
    encrypt_numbers,
    row_of_line,
    staging_values,
)
from app.models import (
    CardClass,
    CardService,
    CardSystem,
    Holder,
    ImportJob,
    ImportRowError,
    Region,
    SkillLevel,
    TitleCode,
)
from app.privacy import PersonalDataVault
from app.problems import describe_validation_errors
from app.registry.schemas import CardIn, CredentialCreate, SkillIn, TitleIn
from app.settings import Settings

log = logging.getLogger("huren.imports")
ROW_ADAPTER: TypeAdapter[TitleIn | SkillIn | CardIn] = TypeAdapter(CredentialCreate)
HOLDER_COLUMNS = {"holder_name": "name", "holder_id_type": "id_type", "holder_id_number": "id_number"}
ISSUER_COLUMNS = {"issuer_name": "name", "issuer_usci": "usci", "issuer_level": "level"}
MAX_STORED_ERRORS = 100_000
# Batches of the scratch file per COPY on PostgreSQL (a progress step); a COPY per batch costs round trips.
COPY_CHUNK_BATCHES = 10
PROGRESS_SECONDS = 0.25  # at most this often a job's progress is written (per phase)
LineSink = Callable[[list[str]], Awaitable[None]]


@dataclass(frozen=True)
class RowError:
    row: int | None
    column: str | None
    code: str
    message: str


async def load_code_tables(session: AsyncSession, held: frozenset[str] | None = None) -> CodeTables:
    services: dict[str, set[str]] = {}
    for system, code in await session.execute(select(CardService.system_code, CardService.code)):
        services.setdefault(system, set()).add(code)
    return CodeTables(
        regions=frozenset((await session.scalars(select(Region.code))).all()),
        title_codes=frozenset((await session.scalars(select(TitleCode.code))).all()),
        skill_levels=frozenset((await session.scalars(select(SkillLevel.level))).all()),
        card_system_regions={
            code: region
            for code, region in await session.execute(select(CardSystem.code, CardSystem.region_code))
        },
        card_classes=frozenset(
            (system, code)
            for system, code in await session.execute(select(CardClass.system_code, CardClass.code))
        ),
        card_services={system: frozenset(codes) for system, codes in services.items()},
        held=held,
    )


def build_payload(kind: str, values: dict[str, str | None]) -> dict[str, Any]:
    """A flat file row as the registry's request body: holder and issuer nested, lists split."""
    payload: dict[str, Any] = {"kind": kind}
    holder: dict[str, str] = {}
    issuer: dict[str, str] = {}
    for column, value in values.items():
        if value is None:
            continue
        if column in HOLDER_COLUMNS:
            holder[HOLDER_COLUMNS[column]] = value
        elif column in ISSUER_COLUMNS:
            issuer[ISSUER_COLUMNS[column]] = value
        elif column == "entitlements":
            payload[column] = [item.strip() for item in value.split(";") if item.strip()]
        else:
            payload[column] = value
    payload["holder"], payload["issuer"] = holder, issuer
    return payload


def flatten_payload(payload: dict[str, Any]) -> dict[str, str]:
    """The inverse of build_payload: a request body as a file row."""
    row: dict[str, str] = {}
    for key, value in payload.items():
        if key == "kind" or value is None:
            continue
        if key in ("holder", "issuer"):
            row.update({f"{key}_{name}": str(item) for name, item in value.items() if item is not None})
        elif isinstance(value, list):
            row[key] = ";".join(value)
        else:
            row[key] = str(value)
    return row


def column_of(field_path: str | None) -> str | None:
    """`holder.id_number` → `holder_id_number`, `entitlements.2` → `entitlements`: the file's column."""
    if not field_path:
        return None
    parts = [p for p in field_path.split(".") if not p.isdigit()]
    if len(parts) >= 2 and parts[0] in ("holder", "issuer"):
        return f"{parts[0]}_{parts[1]}"
    return parts[0]


def validate_row(
    kind: str, raw: RawRow, tables: CodeTables, today: date
) -> tuple[CleanRow | None, list[RowError]]:
    """The lean checks take a row they can vouch for; any other row goes through the registry's models, which
    decide and name every error. `today` is the import's start (UTC): later dates are left to the models."""
    if not raw.problems:
        clean = check_row_fast(kind, raw.row, raw.values, tables, today)
        if clean is not None:
            return clean, []
    return validate_row_with_models(kind, raw, tables)


def validate_row_with_models(
    kind: str, raw: RawRow, tables: CodeTables
) -> tuple[CleanRow | None, list[RowError]]:
    errors = [RowError(raw.row, p.column, p.code, p.message) for p in raw.problems]
    try:
        model = ROW_ADAPTER.validate_python(build_payload(kind, raw.values))
    except ValidationError as exc:
        described = describe_validation_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        errors += [RowError(raw.row, column_of(e["field"]), e["code"], e["message"]) for e in described]
        return None, errors
    clean = clean_from_model(raw.row, model)
    errors += [
        RowError(raw.row, column, code, message) for column, code, message in check_codes(clean, tables)
    ]
    return (None if errors else clean), errors


@dataclass
class Tally:
    total: int = 0
    rejected_rows: set[int] = field(default_factory=set)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


ProgressHook = Callable[[str, int], Awaitable[None]]


@dataclass
class Slots:
    """A count of things running in this process, with a limit checked on taking (one event loop: no lock)."""

    used: int = 0

    def take(self, limit: int) -> bool:
        if self.used >= limit:
            return False
        self.used += 1
        return True

    def give_back(self) -> None:
        self.used -= 1


STREAMED_COMMITS = Slots()


def registered_elsewhere(row: int) -> RowError:
    message = "a holder with this document number is registered under another name"
    return RowError(row, "holder_name", "holder.name_mismatch", message)


@cache
def select_registered(dialect: str) -> Select[str, str]:
    """The holders, among a batch's document hashes, already registered (with the name they have)."""
    query = select(Holder.id_hash, Holder.name)
    if dialect == "postgresql":
        # One array parameter rather than one per hash: a third of the time for a batch of 2,000 (7.7 µs a row
        # before, most of it binding and compiling the parameters).
        return query.where(Holder.id_hash == any_(bindparam("hashes", type_=ARRAY(String))))
    return query.where(Holder.id_hash.in_(bindparam("hashes", expanding=True)))


def holder_key(id_hash: str) -> bytes:
    # The keyed hash (HMAC-SHA256) cut to 128 bits: no ID number kept in memory, and no second hash per row.
    return bytes.fromhex(id_hash[:32])


@dataclass
class ImportRun:
    """One execution of a job's two passes."""

    job: ImportJob
    path: Path
    sessionmaker: async_sessionmaker[AsyncSession]
    vault: PersonalDataVault
    batch_rows: int
    max_rows: int
    progress: ProgressHook
    held_regions: frozenset[str] | None = None
    overlap: bool = True  # the streamed commit's chunks run beside validation (ImportDeps.own_connections)
    tally: Tally = field(default_factory=Tally)
    errors: list[RowError] = field(default_factory=list)

    def scratch_path(self) -> Path:
        return self.path.with_suffix(self.path.suffix + ".clean.tsv")

    def reject(self, found: Sequence[RowError]) -> None:
        for error in found:
            if error.row is not None:
                self.tally.rejected_rows.add(error.row)
            if len(self.errors) < MAX_STORED_ERRORS:
                self.errors.append(error)

    async def validate(self, sink: LineSink | None = None, phase: str = "validate") -> None:
        """Pass 1: every row checked; clean rows to the scratch file, or handed to `sink` (streamed commit).

        Database reads happen in short transactions, one per batch: on SQLite a long one would hold the
        writer lock that the progress updates need.
        """
        async with self.sessionmaker() as session:
            tables = await load_code_tables(session, self.held_regions)
        # Dates are compared with the UTC day, ID birth dates with the local one: the earlier serves both.
        today = min(datetime.now(UTC).date(), date.today())
        keys = InFileKeys(self.path.with_suffix(self.path.suffix + ".seen.sqlite"))
        try:
            await self.check_rows(keys, tables, today, sink, phase)
            numbers, renamed = keys.find_repeats()
        finally:
            keys.close()
        message = "the same credential number appears in rows {first} and {row}"
        self.reject_repeats(numbers, "number", "number.duplicate_in_file", message)
        message = "the same holder document number has different names in rows {first} and {row}"
        self.reject_repeats(renamed, "holder_name", "holder.name_conflict_in_file", message)

    async def check_rows(
        self, keys: InFileKeys, tables: CodeTables, today: date, sink: LineSink | None, phase: str
    ) -> None:
        pending: list[tuple[CleanRow, str]] = []
        file_format = cast(ImportFormat, self.job.file_format)
        with self.path.open("rb") as source, self.scratch_path().open("w", encoding="utf-8") as scratch:
            os.chmod(self.scratch_path(), 0o600)
            rows = iter_rows(
                source,
                file_format,
                self.job.kind,
                charset=self.job.charset,
                default_region=self.job.default_region,
                max_rows=self.max_rows,
            )
            for raw in rows:
                self.tally.total += 1
                clean, found = validate_row(self.job.kind, raw, tables, today)
                if clean is not None:
                    id_hash = self.vault.hash_document(clean.id_type, clean.id_number)
                    number = f"{clean.region}\x1f{clean.number}"
                    keys.add(clean.row, number, holder_key(id_hash), clean.holder_name)
                if found:
                    self.reject(found)
                else:
                    assert clean is not None
                    pending.append((clean, id_hash))
                if len(pending) >= self.batch_rows:
                    await self.flush_clean(pending, scratch, sink)
                if self.tally.total % self.batch_rows == 0:
                    await self.progress(phase, self.tally.total)
            await self.flush_clean(pending, scratch, sink)
        await self.progress(phase, self.tally.total)

    def reject_repeats(self, repeats: Sequence[Repeat], column: str, code: str, template: str) -> None:
        """Both rows of every repeat, each with the message naming the two."""
        for repeat in repeats:
            message = template.format(first=repeat.first, row=repeat.row)
            self.reject(
                [RowError(repeat.row, column, code, message), RowError(repeat.first, column, code, message)]
            )

    async def flush_clean(
        self, pending: list[tuple[CleanRow, str]], scratch: IO[str], sink: LineSink | None
    ) -> None:
        """Rows whose holder is already registered under another name are rejected; the rest are written."""
        if not pending:
            return
        hashes = sorted({h for _, h in pending})
        async with self.sessionmaker() as session:
            dialect = (await session.connection()).dialect.name
            found = await session.execute(select_registered(dialect), {"hashes": hashes})
            registered = {id_hash: name for id_hash, name in found}
        accepted: list[tuple[CleanRow, str]] = []
        for clean, id_hash in pending:
            known = registered.get(id_hash)
            if known is not None and known != clean.holder_name:
                self.reject([registered_elsewhere(clean.row)])
            else:
                accepted.append((clean, id_hash))
        ciphers = encrypt_numbers(self.vault, [clean for clean, _ in accepted])
        lines = [
            encode_line(staging_values(clean, id_hash, cipher))
            for (clean, id_hash), cipher in zip(accepted, ciphers, strict=True)
        ]
        pending.clear()
        if sink is not None:
            await sink(lines)
        else:
            scratch.writelines(lines)

    def clean_lines(self) -> Iterator[str]:
        """The scratch file's lines, less rows rejected after they were written (a duplicate later on)."""
        rejected = self.tally.rejected_rows
        with self.scratch_path().open(encoding="utf-8") as scratch:
            for line in scratch:
                if not rejected or row_of_line(line) not in rejected:
                    yield line

    def clean_line_batches(self) -> Iterator[list[str]]:
        batch: list[str] = []
        for line in self.clean_lines():
            batch.append(line)
            if len(batch) >= self.batch_rows:
                yield batch
                batch = []
        if batch:
            yield batch

    async def validate_and_commit(self) -> None:
        """Both passes as one (PostgreSQL, all-or-nothing): clean rows are upserted chunk by chunk while
        validation goes on (app.imports.set_based), in one transaction that commits only if no row was
        rejected. The job shows one phase, `commit`, counting the rows validated and fed."""
        async with self.sessionmaker() as session:
            upsert = StreamedUpsert(session, COPY_CHUNK_BATCHES * self.batch_rows, overlap=self.overlap)
            await upsert.open()
            try:
                await self.validate(sink=upsert.feed, phase="commit")
                if self.tally.rejected_rows:
                    # Nothing is stored; the report is validation's (a chunk holding a repeated number may
                    # also have failed in the database, which changes nothing).
                    await upsert.discard()
                    await session.rollback()
                    return
                self.tally.inserted, self.tally.updated, self.tally.unchanged = await upsert.finish()
            except ImportFileError:
                await upsert.discard()  # the file's own fault (row cap, bad encoding): roll back cleanly
                raise
            except BaseException:
                await upsert.cancel()
                raise
            await self.commit_with_audit(session)

    async def commit(self) -> None:
        """Pass 2: all clean rows upserted in one transaction (set-based on PostgreSQL, batched on SQLite)."""
        async with self.sessionmaker() as session:
            if (await session.connection()).dialect.name == "postgresql":
                await self.commit_set_based(session)
            else:
                await self.commit_batched(session)
            await self.commit_with_audit(session)

    async def commit_with_audit(self, session: AsyncSession) -> None:
        """The import's audit event, then the commit that stores the rows and the event together."""
        record_event(
            session,
            "import.committed",
            client_id=self.job.client_id,
            object_ref=f"import:{self.job.id}",
            details={
                "kind": self.job.kind,
                "inserted": self.tally.inserted,
                "updated": self.tally.updated,
                "unchanged": self.tally.unchanged,
            },
        )
        await append_pending_events(session)
        await session.commit()

    def copy_chunks(self) -> Iterator[tuple[bytes, int]]:
        """The scratch file as COPY chunks of whole lines, each with its number of lines.

        Read as bytes, never as a str per line: a million short-lived line objects cost more time than the
        COPY and left the process ~100 MB larger (allocator fragmentation). Only rows rejected after they
        were written (on_error=skip) need the lines split.
        """
        rejected = self.tally.rejected_rows
        size = COPY_CHUNK_BATCHES * self.batch_rows * 256  # ~10 batches of ~250-byte lines
        rest = b""
        with self.scratch_path().open("rb") as scratch:
            while block := scratch.read(size):
                block = rest + block
                cut = block.rfind(b"\n") + 1
                chunk, rest = block[:cut], block[cut:]
                if rejected:
                    chunk = b"".join(
                        line for line in chunk.splitlines(keepends=True) if row_of_line(line) not in rejected
                    )
                if chunk:
                    yield chunk, chunk.count(b"\n")
        if rest:
            raise RuntimeError("the scratch file does not end with a line break")

    async def commit_set_based(self, session: AsyncSession) -> None:
        """PostgreSQL: COPY the scratch file into a staging table, then one INSERT … ON CONFLICT per table."""
        await open_staging(session)
        driver = await driver_of(await session.connection())  # for COPY, which SQLAlchemy does not offer
        done = 0
        for chunk, lines in self.copy_chunks():
            # One COPY per chunk: progress is written between them (tests share this connection).
            await stage_chunk(driver, chunk)
            done += lines
            await self.progress("commit", done)
        await session.execute(text(INSERT_ISSUERS))
        await session.execute(text(INSERT_HOLDERS))
        inserted, written = (await session.execute(text(UPSERT_CREDENTIALS))).one()
        self.tally.inserted = inserted
        self.tally.updated = written - inserted
        self.tally.unchanged = done - written

    async def commit_batched(self, session: AsyncSession) -> None:
        """SQLite: batches through the driver's executemany, compared with the stored rows in Python."""
        issuers: dict[str, int] = {}
        counts = batched.Counts()
        done = 0
        connection = await session.connection()
        previous = int((await connection.exec_driver_sql("PRAGMA cache_size")).scalar_one())
        await connection.exec_driver_sql(f"PRAGMA cache_size = {batched.COMMIT_CACHE_SIZE}")
        try:
            for lines in self.clean_line_batches():
                await batched.upsert_batch(session, lines, issuers, counts)
                done += len(lines)
                await self.progress("commit", done)
        finally:
            # The connection goes back to the pool with the page cache it had.
            await connection.exec_driver_sql(f"PRAGMA cache_size = {previous}")
        self.tally.inserted, self.tally.updated, self.tally.unchanged = (
            counts.inserted,
            counts.updated,
            counts.unchanged,
        )


@dataclass(frozen=True)
class StoredFile:
    path: Path
    sha256: str
    size: int
    head: bytes


def store_file(source: IO[bytes], directory: Path) -> StoredFile:
    """Copy an upload to the import directory, hashing it on the way (idempotency compares files)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"upload-{uuid.uuid4().hex}"
    digest, size, head = hashlib.sha256(), 0, b""
    with path.open("wb") as target:
        os.chmod(path, 0o600)  # personal data: readable by the service only
        while chunk := source.read(1 << 20):
            if not head:
                head = chunk[:4096]
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
    return StoredFile(path, digest.hexdigest(), size, head)


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
    ) -> ImportDeps:
        return cls(
            own_connections=own_connections,
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


def is_stale(job: ImportJob, stale_after: timedelta) -> bool:
    beat = job.heartbeat_at or job.created_at
    return job.status in ("queued", "running") and datetime.now(UTC) - beat > stale_after


class IdempotencyKeyReused(AppError):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency-Key reused"


class ImportInProgress(AppError):
    status, slug, title = 409, "import-in-progress", "An import with this key is running"


async def open_job(
    session: AsyncSession,
    deps: ImportDeps,
    *,
    client_id: str,
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
    """The job for this upload: a new one, or the original when the same key brings the same file again."""
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
        object_ref=f"import:{job_id}",
        details={"kind": kind, "mode": mode, "on_error": on_error},
    )
    return job, True


async def set_job_fields(deps: ImportDeps, job_id: str, **values: Any) -> None:
    async with deps.transactions() as conn:
        await conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


async def run_job(deps: ImportDeps, job_id: str, on_progress: ProgressHook | None = None) -> ImportJob:
    """Run (or run again) both passes of a job and record the outcome. Never raises for the file's content."""
    async with deps.sessionmaker() as session:
        job = await session.get(ImportJob, job_id)
        if job is None:
            raise NotFound("no such import")
        session.expunge(job)
    now = datetime.now(UTC)
    await set_job_fields(
        deps,
        job_id,
        status="running",
        phase="validate",
        started_at=now,
        heartbeat_at=now,
        attempts=job.attempts + 1,
        processed_rows=0,
        problem=None,
    )

    written: dict[str, float] = {}  # phase -> when its progress was last written

    async def progress(phase: str, rows: int) -> None:
        if on_progress is not None:
            await on_progress(phase, rows)
        # SQLite has one writer: while the commit transaction holds it, progress stays in memory.
        if phase == "commit" and deps.dialect == "sqlite":
            return
        # A write per batch was a transaction every 2,000 rows; a reader polling the job needs less.
        now = time.monotonic()
        if now - written.get(phase, -PROGRESS_SECONDS) < PROGRESS_SECONDS:
            return
        written[phase] = now
        await set_job_fields(deps, job_id, phase=phase, processed_rows=rows, heartbeat_at=datetime.now(UTC))

    run = ImportRun(
        job,
        Path(job.file_path),
        deps.sessionmaker,
        deps.vault,
        deps.batch_rows,
        deps.max_rows,
        progress,
        held_regions=deps.held_regions,
        overlap=deps.own_connections,
    )
    status, problem = "succeeded", None
    streamed = (
        job.mode == "commit"
        and job.on_error != "skip"
        and deps.dialect == "postgresql"
        # Streaming pays while the tables' indexes stay in PostgreSQL's buffer cache. A large file's chunks
        # each insert and probe holders at random places of an id_hash index that no longer fits (10M rows,
        # stock settings: 7,100 rows/s and falling, where two passes gave 12,750; bench/RESULTS.md).
        and run.path.stat().st_size <= deps.stream_max_bytes
        # Each streamed commit holds a pooled connection for its whole validation: at most a quarter of
        # the pool, so imports alone never take it from requests. Beyond that, the two passes.
        and STREAMED_COMMITS.take(max(1, deps.pool_size // 4))
    )
    try:
        if streamed:
            await run.validate_and_commit()  # committed only if no row was rejected
        else:
            await run.validate()
            if job.mode == "commit" and (not run.tally.rejected_rows or job.on_error == "skip"):
                await run.commit()
        if job.mode == "commit" and run.tally.rejected_rows and job.on_error != "skip":
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
    finally:
        if streamed:
            STREAMED_COMMITS.give_back()
        run.scratch_path().unlink(missing_ok=True)
    # The upload holds ID numbers in clear: it is kept only while its job may still need to run. A worker that
    # dies never gets here, so a stalled job keeps its file and can be resumed.
    run.path.unlink(missing_ok=True)
    await save_errors(deps, job_id, run.errors)
    await set_job_fields(
        deps,
        job_id,
        status=status,
        phase=None,
        problem=problem,
        finished_at=datetime.now(UTC),
        heartbeat_at=datetime.now(UTC),
        total_rows=run.tally.total,
        processed_rows=run.tally.total,
        rejected=len(run.tally.rejected_rows),
        inserted=run.tally.inserted,
        updated=run.tally.updated,
        unchanged=run.tally.unchanged,
    )
    async with deps.sessionmaker() as session:
        finished = await session.get(ImportJob, job_id)
        assert finished is not None
        return finished


async def save_errors(deps: ImportDeps, job_id: str, errors: list[RowError]) -> None:
    async with deps.transactions() as conn:
        await conn.execute(delete(ImportRowError).where(ImportRowError.job_id == job_id))
        rows = [
            {"job_id": job_id, "row": e.row, "column": e.column, "code": e.code, "message": e.message}
            for e in sorted(errors, key=lambda e: (e.row or 0, e.column or ""))
        ]
        for start in range(0, len(rows), 5000):
            await conn.execute(insert(ImportRowError), rows[start : start + 5000])


async def list_errors(session: AsyncSession, job_id: str) -> Sequence[ImportRowError]:
    return (
        await session.scalars(
            select(ImportRowError)
            .where(ImportRowError.job_id == job_id)
            .order_by(ImportRowError.row, ImportRowError.id)
        )
    ).all()
