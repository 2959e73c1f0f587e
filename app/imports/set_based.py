"""The PostgreSQL commit of an import: COPY into a staging table, then set-based statements.

Two committers (app.imports.committer) run them. The two-pass commit (`TwoPassUpsert`) loads the whole
scratch file once validation is over. The streamed commit (`StreamedUpsert`, all-or-nothing imports only)
feeds the same statements chunk by chunk while validation is still going: PostgreSQL's work (the code check,
the holders insert, seven index entries and two foreign-key checks a row) then runs on the other core while
this process validates the next rows, instead of after them. Everything still happens in one transaction: a
rejected row anywhere, or a dead worker, leaves nothing. With on_error=skip a row can be rejected after it was
fed (its duplicate comes later in the file), so those imports keep the two passes. Neither commits: the job
runner (app.imports.jobs) does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import driver_of
from app.imports.committer import Counts
from app.imports.freed_memory import trim_freed_memory
from app.imports.staging import COMPARED_FIELDS, STAGING_COLUMNS


async def as_stream(chunk: bytes) -> AsyncIterator[bytes]:
    """A chunk as an asynchronous source for asyncpg's COPY. A file object would be read in a thread pool,
    and the memory those reads took was kept by the process: ~170 MB more peak RSS at a million rows."""
    yield chunk


STAGING_TABLE = """
CREATE TEMP TABLE import_staging (
    row_no integer, id_hash text, id_type text, id_cipher text, id_masked text, holder_name text,
    birth_date date, sex text, issuer_usci text, issuer_name text, issuer_level text, kind text,
    region_code text, number text, issued_on date, valid_from date, valid_until date, title_code text,
    specialty text, obtained_on date, approval_no text, review_body text, occupation_code text,
    occupation_name text, skill_level integer, work_type text, number_format text, card_system text,
    card_class text, entitlements jsonb, permit_class text, employer_name text, employer_usci text
) ON COMMIT DROP
"""
# First sighting registers an issuer (level city unless given) and a holder; existing ones are kept.
# Holders go in in file order, so their ids rise with the rows that name them: the upsert that follows meets
# them in that order, and its foreign-key checks and holder_id index inserts walk the holders' key in order
# instead of at random (inserted in id_hash order, the holder check alone took 37.5 s of a 3M-row commit,
# 12.5 µs a row; the other foreign keys ~3 µs each).
# The issuers' sort compares bytes (COLLATE "C"): USCIs are ASCII, and the database's default collation
# compares through the C library at ~3× the cost. Only new issuers are sorted (a hashed look-up leaves out the
# known ones, nearly all of a chunk's rows). A holder named by several rows is inserted once, from its first
# row: the later ones meet the row this statement inserted, and ON CONFLICT DO NOTHING skips them (no sort
# by id_hash to pick first rows; the file-order sort carries the holders' own columns only).
INSERT_ISSUERS = """
INSERT INTO organisations (usci, name, region_code, level, created_at)
SELECT DISTINCT ON (issuer_usci COLLATE "C")
    issuer_usci, issuer_name, region_code, coalesce(issuer_level, 'city'), now()
FROM import_staging WHERE issuer_usci NOT IN (SELECT usci FROM organisations)
ORDER BY issuer_usci COLLATE "C"
ON CONFLICT (usci) DO NOTHING
"""
# The staged id_hash is the hex text of the file; holders keep its bytes (migration 0017).
INSERT_HOLDERS = """
INSERT INTO holders (id_type, id_hash, id_cipher, id_masked, name, birth_date, sex, created_at)
SELECT id_type, decode(id_hash, 'hex'), id_cipher, id_masked, holder_name, birth_date, sex, now()
FROM import_staging ORDER BY row_no
ON CONFLICT (id_hash) DO NOTHING
"""


# The job's id, set once per transaction by open_staging: the statements stay constant text (the streamed
# commit runs them as a script without parameters). Unchanged rows are not written, so they keep the job that
# last changed them.
IMPORT_JOB = "nullif(current_setting('huren.import_job', true), '')"


def build_upsert(*, per_row_holder: bool) -> str:
    """One INSERT … ON CONFLICT for every staged credential: new ones inserted, changed ones updated with a
    new version, identical ones left alone (and not returned). Built from constant column names only.

    `per_row_holder` looks each row's holder up in the id_hash index instead of joining the tables. A chunk
    of the streamed commit needs that: PostgreSQL knows nothing of the freshly filled staging table and hash
    joined every chunk against the whole holders table, a full scan each time (20,000 rows against a million
    holders: 240-360 ms of a chunk's 700-840, and growing with the registry). For the two-pass commit,
    whose staging table holds the whole file, the hash join is the right plan.
    """
    fields = list(COMPARED_FIELDS)  # holder_id and issuer_id first, then the staged columns
    staged = ", ".join(f"s.{f}" for f in fields[2:])
    if per_row_holder:
        holder = "(SELECT h.id FROM holders h WHERE h.id_hash = decode(s.id_hash, 'hex'))"
        sources = "FROM import_staging s "
    else:
        holder = "h.id"
        sources = "FROM import_staging s JOIN holders h ON h.id_hash = decode(s.id_hash, 'hex') "
    assignments = ", ".join(f"{f} = EXCLUDED.{f}" for f in fields)
    current = ", ".join(f"credentials.{f}" for f in fields)
    proposed = ", ".join(f"EXCLUDED.{f}" for f in fields)
    # Every name in the text comes from COMPARED_FIELDS: no input reaches the statement.
    # Counted in the database: a million returned rows would cost the importing process ~100 MB.
    return (
        "WITH written AS ("  # noqa: S608 (names from COMPARED_FIELDS only)
        f"INSERT INTO credentials (kind, region_code, number, status, version, created_at, updated_at, "
        f"import_job_id, {', '.join(fields)}) "
        f"SELECT s.kind, s.region_code, s.number, 'active', 1, now(), now(), {IMPORT_JOB}, {holder}, o.id, "
        f"{staged} "
        f"{sources}JOIN organisations o ON o.usci = s.issuer_usci "
        f"ON CONFLICT (kind, region_code, number) DO UPDATE SET {assignments}, "
        "version = credentials.version + 1, updated_at = now(), import_job_id = EXCLUDED.import_job_id "
        f"WHERE ({current}) IS DISTINCT FROM ({proposed}) "
        "RETURNING (xmax = 0) AS inserted) "
    )


# The upsert's counts: as a row (two-pass commit), or added to import_counts (streamed commit, whose
# statements run as one script that returns no rows).
COUNT_WRITTEN = "SELECT count(*) FILTER (WHERE inserted), count(*) FROM written"
UPSERT_CREDENTIALS = build_upsert(per_row_holder=False) + COUNT_WRITTEN
UPSERT_AND_COUNT = (
    build_upsert(per_row_holder=True) + f"INSERT INTO import_counts (inserted, written) {COUNT_WRITTEN}"
)


COUNTS_TABLE = "CREATE TEMP TABLE import_counts (inserted bigint, written bigint) ON COMMIT DROP"

# Every code a staged row names is in its code table, checked once over the staged rows in the import's own
# transaction (hashed look-ups, under a microsecond a row), where a foreign key fired a trigger per row and
# code (~3 µs each). Code tables are never deleted from nor their keys changed (migration 0016's triggers), so
# a code seen here is still there when the import commits. Validation refuses unknown codes row by row;
# this refuses the whole import if one got past it. `x NOT IN (…)` is null, not true, for a null code.
CHECK_CODES = """
DO $$
DECLARE
    first_row integer;
BEGIN
    SELECT min(row_no) INTO first_row FROM import_staging s
    WHERE s.region_code NOT IN (SELECT code FROM regions)
       OR s.title_code NOT IN (SELECT code FROM title_codes)
       OR s.skill_level NOT IN (SELECT level FROM skill_levels)
       OR s.card_system NOT IN (SELECT code FROM card_systems)
       OR (s.card_system, s.card_class) NOT IN (SELECT system_code, code FROM card_classes)
       OR s.permit_class NOT IN (SELECT code FROM permit_classes);
    IF first_row IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = format('row %s names a code that is not in its code table', first_row);
    END IF;
END
$$
"""
# One script per chunk, one round trip: check the codes, register issuers and holders, upsert, count, empty
# the staging table.
CHUNK_SCRIPT = ";\n".join(
    [CHECK_CODES, INSERT_ISSUERS, INSERT_HOLDERS, UPSERT_AND_COUNT, "TRUNCATE import_staging"]
)


async def open_staging(session: AsyncSession, job_id: str | None) -> None:
    """The staging table in the session's transaction (ON COMMIT DROP cleans up; inside a savepoint, as in
    tests, it has not fired yet, hence the DROP first)."""
    await session.execute(text("DROP TABLE IF EXISTS import_staging"))
    await session.execute(text(STAGING_TABLE))
    # Sorts and hash joins over the staged rows in memory, not in batches on disk (this transaction only).
    await session.execute(text("SET LOCAL work_mem = '64MB'"))
    # A COPY or an upsert of millions of rows runs for longer than a request may: this transaction has no
    # statement time-out (HUREN_DB_STATEMENT_TIMEOUT_MS bounds requests). A stuck job shows by its heartbeat.
    await session.execute(text("SET LOCAL statement_timeout = 0"))
    await session.execute(text("SELECT set_config('huren.import_job', :job, true)"), {"job": job_id or ""})


async def stage_chunk(driver: Any, chunk: bytes) -> None:
    """COPY whole COPY-text lines into the staging table."""
    columns = list(STAGING_COLUMNS)
    await driver.copy_to_table("import_staging", source=as_stream(chunk), columns=columns, format="text")


class TwoPassUpsert:
    """PostgreSQL after validation: the scratch file COPYed into a staging table, one COPY per block (progress
    is written between them), then one INSERT … ON CONFLICT per table over the whole file."""

    streams = False

    def __init__(self, block_rows: int, job_id: str | None = None) -> None:
        self.job_id = job_id
        self.block_rows = block_rows  # rows per COPY: each is a round trip, and a progress step
        self.session: AsyncSession | None = None
        self.driver: Any = None
        self.staged = 0

    async def begin(self, session: AsyncSession) -> None:
        self.session = session
        await open_staging(session, self.job_id)
        self.driver = await driver_of(await session.connection())  # for COPY, which SQLAlchemy does not offer

    async def write(self, block: bytes, rows: int) -> None:
        await stage_chunk(self.driver, block)
        self.staged += rows

    async def finish(self) -> Counts:
        assert self.session is not None
        await self.driver.execute(CHECK_CODES)  # a DO block: no parameters, run as a script
        await self.session.execute(text(INSERT_ISSUERS))
        await self.session.execute(text(INSERT_HOLDERS))
        inserted, written = (await self.session.execute(text(UPSERT_CREDENTIALS))).one()
        return Counts(inserted=inserted, updated=written - inserted, unchanged=self.staged - written)

    async def abandon(self, *, wait: bool) -> None:
        """Nothing runs beside the caller: the owner's rollback undoes every COPY."""


class StreamedUpsert:
    """Clean rows fed during validation, written chunk by chunk in the session's transaction by a writer task.

    `write` queues a full chunk and returns at once unless `depth` chunks already wait (then validation waits
    for PostgreSQL, not the reverse). asyncpg sends each step whenever validation yields to the event loop
    (every batch), and PostgreSQL works on the chunk meanwhile.
    """

    streams = True

    def __init__(
        self, chunk_rows: int, *, job_id: str | None = None, overlap: bool = True, depth: int = 2
    ) -> None:
        self.job_id = job_id
        # overlap: the chunks run beside validation, on the session's own connection. Tests bind every session
        # to one connection, where validation waits for each chunk instead.
        self.session: AsyncSession | None = None
        self.chunk_rows, self.overlap = chunk_rows, overlap
        self.block_rows = chunk_rows
        # The chunk being filled, as bytes: the batches' line strings are freed as they come (holding 20,000
        # of them per chunk fragmented the heap: +55 MB peak RSS at a million rows).
        self.pending = bytearray()
        self.pending_rows = 0
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=depth)
        self.writer: asyncio.Task[None] | None = None
        self.failure: Exception | None = None
        self.staged = 0

    async def begin(self, session: AsyncSession) -> None:
        self.session = session
        await open_staging(session, self.job_id)
        await session.execute(text("DROP TABLE IF EXISTS import_counts"))
        await session.execute(text(COUNTS_TABLE))
        # COPY, which SQLAlchemy does not offer, and the script, on the driver in the session's transaction.
        driver = await driver_of(await session.connection())
        self.writer = asyncio.create_task(self.write_chunks(driver))

    async def write(self, block: bytes, rows: int) -> None:
        self.pending += block
        self.pending_rows += rows
        if self.pending_rows >= self.chunk_rows:
            await self.send_pending()

    async def send_pending(self) -> None:
        if self.failure is not None:
            # Validation goes on, so the caller still learns of every bad row (a repeated number within a
            # chunk makes the upsert fail); finish() raises the failure.
            self.pending, self.pending_rows = bytearray(), 0
            return
        chunk, self.pending = bytes(self.pending), bytearray()
        self.staged, self.pending_rows = self.staged + self.pending_rows, 0
        await self.queue.put(chunk)
        await asyncio.sleep(0)  # let the writer send the COPY before validation takes the CPU again
        if not self.overlap:
            await self.queue.join()  # the session shares its connection with validation's reads

    async def write_chunks(self, driver: Any) -> None:
        # After a failure it keeps taking chunks (and drops them), so a full queue never blocks `write`.
        while (chunk := await self.queue.get()) is not None:
            try:
                if self.failure is None:
                    await stage_chunk(driver, chunk)
                    del chunk
                    await driver.execute(CHUNK_SCRIPT)
                    trim_freed_memory()
            except Exception as exc:
                self.failure = exc
            finally:
                self.queue.task_done()
        self.queue.task_done()

    async def finish(self) -> Counts:
        """Write what is left and wait for it: the counts over every chunk."""
        assert self.writer is not None
        assert self.session is not None
        if self.pending:
            await self.send_pending()
        await self.drain()
        if self.failure is not None:
            raise self.failure
        counts = await self.session.execute(
            text("SELECT coalesce(sum(inserted), 0), coalesce(sum(written), 0) FROM import_counts")
        )
        inserted, written = (int(value) for value in counts.one())
        return Counts(inserted=inserted, updated=written - inserted, unchanged=self.staged - written)

    async def drain(self) -> None:
        """Let the writer finish what it was given and stop; its connection is then free again."""
        if self.writer is not None and not self.writer.done():
            await self.queue.put(None)
            await self.writer

    async def abandon(self, *, wait: bool) -> None:
        if wait:
            await self.discard()
        else:
            await self.cancel()

    async def discard(self) -> None:
        """Stop without writing what is still queued (rows were rejected: the owner rolls back). The chunk in
        flight is let finish rather than cancelled, so the connection stays usable for the rollback."""
        self.pending, self.pending_rows = bytearray(), 0
        if self.failure is None:
            self.failure = ImportDiscarded()  # the writer drops every chunk it takes from now on
        await self.drain()

    async def cancel(self) -> None:
        """Stop the writer at once (the task itself is being cancelled, or validation failed)."""
        if self.writer is not None and not self.writer.done():
            self.writer.cancel()
            await asyncio.gather(self.writer, return_exceptions=True)


class ImportDiscarded(Exception):
    """Marks a streamed commit whose remaining chunks are dropped."""
