"""SQLite commit of an import: the scratch file in blocks, each through a TEMP staging table and set-based
statements, run on the session's own sqlite3 connection in one call per block.

Per block: the lines go into `temp.import_staging`, many rows a statement (the only per-row Python work: a
`str.split`; NULL markers become NULL in SQL, and fields are unescaped in Python only in the rare block that
holds an escape), then, each as ONE statement that SQLite runs without coming back to Python:
1. issuers seen for the first time (first row wins, level city by default, as the API registers them);
2. holders seen for the first time, in `id_hash` order so that its unique index is filled in sequence;
3. credentials, in (number, kind, region_code) order, the unique key's: new ones inserted, stored ones that
   differ from their row updated to a new version (an upsert whose update has a WHERE).
What is stored is what the ORM stores (tests/imports/test_commit.py compares the two paths); the counts come
from the upsert's change count and the ids above the largest before it. Everything happens in the caller's
transaction (`BatchedUpsert` is the SQLite committer of app.imports.committer): nothing is committed here, a
killed process leaves nothing (tests/imports/test_jobs.py kills one).

Why one call per block on the raw connection: through SQLAlchemy and aiosqlite every statement is a hop to
aiosqlite's thread and back; here a block's few statements are two hops, and the set-based statements run in
SQLite's C code with the GIL released.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any, Final, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.imports.committer import Counts
from app.imports.freed_memory import trim_freed_memory
from app.imports.staging import COMPARED_FIELDS, NULL, STAGING_COLUMNS, unescape
from app.models import Credential

T = TypeVar("T")

# SQLite's page cache for the commit, in KiB when negative (default 2 MiB; restored after). The indexes the
# commit fills outgrow the default at a few thousand rows; beyond that each insert read pages back from disk.
COMMIT_CACHE_SIZE: Final = -65536
# A streamed commit's cache is alive at the same time as validation's memory, where two passes reuse that
# memory: smaller, to keep the process's peak RSS. 16 MiB rather than 32 took 19 MB off the peak of a 1M-row
# import, at no speed one run could tell from noise; 8 MiB took 13 MB more but cost about 8 % of the speed
# (bench/RESULTS.md).
STREAMED_CACHE_SIZE: Final = -16384
# The TEMP tables' own page cache: a block's staging rows (20,000 of ~300 bytes, 6 MB) stay in memory, never
# spilled to a temporary file.
STAGING_CACHE_SIZE: Final = -8192

_STAGED: Final = COMPARED_FIELDS[2:]  # the credential's own compared columns (not holder_id, issuer_id)
_INTEGER_COLUMNS: Final = frozenset({"row_no", "skill_level"})
_ESCAPE: Final = NULL[0]  # the backslash: NULL markers and escapes both start with it

# Every name below comes from STAGING_COLUMNS and COMPARED_FIELDS: no input reaches these statements.
# Staging columns have the affinity of the column they feed: TEXT, and INTEGER for the skill level and row, so
# what is compared and copied is already in its stored form.
CREATE_STAGING: Final = (
    "CREATE TEMP TABLE import_staging ("
    + ", ".join(f"{name} {'INTEGER' if name in _INTEGER_COLUMNS else 'TEXT'}" for name in STAGING_COLUMNS)
    + ")"
)
DROP_TEMP: Final = "DROP TABLE IF EXISTS temp.import_staging"
# One statement for every block: a block's lines as split (NULL markers kept as the text `\\N`, turned to NULL
# by the statements that read them) or, in a block holding an escape, unescaped in Python with NULL as None.
_ROW_MARKS: Final = f"({', '.join('?' for _ in STAGING_COLUMNS)})"
STAGE_ROWS: Final = f"INSERT INTO temp.import_staging VALUES {_ROW_MARKS}"  # noqa: S608
# Rows a staging statement takes at most. SQLite binds up to 250,000 parameters (Debian's build), and a
# statement of that many (7,575 rows) held a split list of 250,000 strings, 17 MB, beside the block's lines:
# 1,000 rows a statement took 50 MB off the peak RSS of a 1M-row import at the same speed (bench/RESULTS.md).
STAGE_STATEMENT_ROWS: Final = 1_000
# Staged columns never NULL: the keys the statements join and sort on (validation requires them).
_NEVER_NULL: Final = frozenset({"row_no", "id_hash", "issuer_usci", "kind", "region_code", "number"})
_COLUMNS: Final = ("holder_id", "issuer_id", *_STAGED)


@dataclass(frozen=True)
class BlockStatements:
    """The set-based statements of a block, reading the staging table (alias `s`)."""

    issuers: str
    holders: str
    credentials: str


def staged_value(name: str, *, markers: bool) -> str:
    """The SQL of staged column `name` (alias `s`) as stored, NULLs staged as `\\N` markers or as NULL."""
    if markers and name not in _NEVER_NULL:
        return f"nullif(s.{name}, '{NULL}')"
    return f"s.{name}"


def block_statements(markers: bool) -> BlockStatements:
    """The statements for blocks whose NULLs are staged as `\\N` markers (`markers`), or as NULL."""
    value = partial(staged_value, markers=markers)

    # The JSON type stores an absent list as 'null'.
    staged = ", ".join(
        f"coalesce({value(name)}, 'null')" if name == "entitlements" else value(name) for name in _STAGED
    )
    # Compared as JSON: SQL NULL and 'null' alike, whitespace aside.
    differs = " OR ".join(
        "json(coalesce(credentials.entitlements, 'null')) IS NOT json(excluded.entitlements)"
        if name == "entitlements"
        else f"credentials.{name} IS NOT excluded.{name}"
        for name in _COLUMNS
    )
    holder = ", ".join(
        value(name)
        for name in ("id_type", "id_hash", "id_cipher", "id_masked", "holder_name", "birth_date", "sex")
    )
    return BlockStatements(
        # The ORM's Organisation defaults: the first row naming an issuer registers it, level city if none.
        issuers=(
            "INSERT INTO organisations (usci, name, region_code, level, created_at) "  # noqa: S608
            f"SELECT s.issuer_usci, {value('issuer_name')}, s.region_code, "
            f"coalesce(nullif({value('issuer_level')}, ''), 'city'), :now "
            "FROM temp.import_staging AS s WHERE true ORDER BY s.row_no "
            "ON CONFLICT (usci) DO NOTHING"
        ),
        # A holder already registered keeps its record; a new one takes its first row's values.
        holders=(
            "INSERT INTO holders (id_type, id_hash, id_cipher, id_masked, name, birth_date, sex, created_at) "  # noqa: S608
            f"SELECT {holder}, :now FROM temp.import_staging AS s WHERE true ORDER BY s.id_hash, s.row_no "
            "ON CONFLICT (id_hash) DO NOTHING"
        ),
        # New credentials inserted, stored ones that differ from their row updated to a new version, in one
        # pass over the staged rows in the unique key's order (one probe of it a row). CROSS JOIN fixes
        # SQLite's join order: staged rows first, each probing the holders' and issuers' unique keys.
        credentials=(
            "INSERT INTO credentials (kind, region_code, number, status, version, created_at, updated_at, "  # noqa: S608
            f"import_job_id, {', '.join(_COLUMNS)}) "
            f"SELECT s.kind, s.region_code, s.number, 'active', 1, :now, :now, :job, h.id, o.id, {staged} "
            "FROM temp.import_staging AS s CROSS JOIN holders AS h CROSS JOIN organisations AS o "
            "WHERE h.id_hash = s.id_hash AND o.usci = s.issuer_usci ORDER BY s.number, s.kind, s.region_code "
            "ON CONFLICT (kind, region_code, number) DO UPDATE SET "
            f"{', '.join(f'{name} = excluded.{name}' for name in _COLUMNS)}, "
            "version = credentials.version + 1, updated_at = excluded.updated_at, "
            f"import_job_id = excluded.import_job_id WHERE {differs}"
        ),
    )


WITH_MARKERS: Final = block_statements(markers=True)
WITH_NULLS: Final = block_statements(markers=False)
# A new row's id is above every id before it (INTEGER PRIMARY KEY: the largest plus one), so the rows above
# the largest id before the upsert are the ones it inserted.
LAST_ID: Final = "SELECT coalesce(max(id), 0) FROM credentials"
COUNT_AFTER: Final = "SELECT count(*) FROM credentials WHERE id > ?"
CLEAR_BLOCK: Final = "DELETE FROM temp.import_staging"


class BatchedUpsert:
    """SQLite's committer: blocks of about `block_rows` rows, each written by set-based statements from a
    TEMP staging table (module docstring).

    `streams`: fed by validation as it goes (app.imports.jobs.stream_rows). A block's statements then run on
    the connection's thread while validation goes on with the next rows: they run in SQLite's C code with
    the GIL released, so the two use both cores. Only the staging makes validation wait: it is mostly Python
    work, and its `executemany` for a block's last rows takes the GIL back for every row, each take waiting
    for the GIL's switch interval beside running Python (bench/sqlite_overlap.py). Otherwise: the scratch
    file after validation, a block at a time.
    """

    def __init__(self, block_rows: int, job_id: str | None = None, *, streams: bool = False) -> None:
        self.job_id = job_id  # stored on every credential the import inserts or changes
        self.block_rows = block_rows
        self.streams = streams
        self.connection: AsyncConnection | None = None
        self.writer: BlockWriter | None = None
        self.counts = Counts()
        self.pending: list[bytes] = []
        self.pending_rows = 0
        self.in_flight: asyncio.Task[None] | None = None

    async def begin(self, session: AsyncSession) -> None:
        self.connection = await session.connection()
        cache_size = STREAMED_CACHE_SIZE if self.streams else COMMIT_CACHE_SIZE
        self.writer = BlockWriter(stored_timestamp(self.connection), self.job_id, cache_size)
        await run_on_connection(self.connection, self.writer.begin)

    async def write(self, block: bytes, rows: int) -> None:
        self.pending.append(block)
        self.pending_rows += rows
        # Read back from the scratch file, a block already has its size; validation's come in batches.
        if not self.streams or self.pending_rows >= self.block_rows:
            await self.send_pending()

    async def send_pending(self) -> None:
        assert self.connection is not None
        assert self.writer is not None
        block, rows = b"".join(self.pending), self.pending_rows
        self.pending, self.pending_rows = [], 0
        # The previous block's statements have ended (or raise their error here). The block is split into
        # lines only then: while it waits it is held as bytes, a third of the size of its lines.
        await self.collect()
        lines = split_lines(block)
        del block
        await run_on_connection(self.connection, partial(self.writer.stage, lines))
        self.in_flight = asyncio.create_task(self.apply(rows))
        if not self.streams:
            await self.collect()

    async def apply(self, rows: int) -> None:
        assert self.connection is not None
        assert self.writer is not None
        inserted, updated = await run_on_connection(self.connection, self.writer.apply)
        self.counts.inserted += inserted
        self.counts.updated += updated
        self.counts.unchanged += rows - inserted - updated

    async def collect(self) -> None:
        if self.in_flight is not None:
            task, self.in_flight = self.in_flight, None
            await task

    async def finish(self) -> Counts:
        if self.pending:
            await self.send_pending()
        await self.collect()
        await self.end()
        return self.counts

    async def abandon(self, *, wait: bool) -> None:
        task, self.in_flight = self.in_flight, None
        if task is not None:
            if wait:
                with contextlib.suppress(Exception):  # the owner rolls back whatever it was
                    await task
            else:
                task.cancel()
                task.add_done_callback(retrieve_error)
        # Queued behind any statement in flight on the connection's thread, so it runs once that ends.
        await self.end()

    async def end(self) -> None:
        if self.connection is not None and self.writer is not None:
            writer, self.writer = self.writer, None
            await run_on_connection(self.connection, writer.end)


class BlockWriter:
    """The commit's work on the raw sqlite3 connection, run on the connection's thread (module docstring)."""

    def __init__(self, now: Any, job_id: str | None, cache_size: int = COMMIT_CACHE_SIZE) -> None:
        self.params = {"now": now, "job": job_id}
        self.cache_size = cache_size
        self.previous: dict[str, int] = {}
        self.markers = True  # whether the staged block holds NULLs as markers (`stage` says)

    @property
    def statements(self) -> BlockStatements:
        return WITH_MARKERS if self.markers else WITH_NULLS

    def begin(self, db: sqlite3.Connection) -> None:
        # The connection goes back to the pool with the settings it had (restored in `end`).
        for pragma, value in (("cache_size", self.cache_size), ("temp.cache_size", STAGING_CACHE_SIZE)):
            self.previous[pragma] = int(db.execute(f"PRAGMA {pragma}").fetchone()[0])
            db.execute(f"PRAGMA {pragma} = {value}")
        db.execute(DROP_TEMP)
        db.execute(CREATE_STAGING)

    def stage(self, lines: Lines, db: sqlite3.Connection) -> None:
        """The block's lines into the staging table."""
        if lines.tabs != (len(STAGING_COLUMNS) - 1) * len(lines.lines):
            # Fields would shift from one row to the next: never from encode_line, which escapes every tab.
            raise ValueError("a scratch line does not have one field for each staging column")
        if lines.escapes == lines.nulls:
            # Every backslash starts a NULL marker, so no field holds an escape: the fields as split, the
            # markers turned to NULL by the statements (in SQLite's C code, which a streamed commit runs
            # beside validation, rather than here, where validation waits).
            stage_split(db, lines.lines)
            self.markers = True
        else:
            db.executemany(STAGE_ROWS, map(exact_fields, lines.lines))
            self.markers = False

    def apply(self, db: sqlite3.Connection) -> tuple[int, int]:
        """The staged rows written, each statement one call into SQLite: (inserted, updated)."""
        db.execute(self.statements.issuers, self.params)
        db.execute(self.statements.holders, self.params)
        last_id = db.execute(LAST_ID).fetchone()[0]
        written = db.execute(self.statements.credentials, self.params).rowcount
        inserted = int(db.execute(COUNT_AFTER, (last_id,)).fetchone()[0])
        db.execute(CLEAR_BLOCK)
        trim_freed_memory()  # the block's values are gone: its memory goes back before the next block
        return inserted, written - inserted

    def end(self, db: sqlite3.Connection) -> None:
        db.execute(DROP_TEMP)
        for pragma, value in self.previous.items():
            db.execute(f"PRAGMA {pragma} = {value}")
        self.previous.clear()


def retrieve_error(task: asyncio.Task[None]) -> None:
    # The owner is being cancelled and rolls back: an error of the abandoned block is no news.
    if not task.cancelled():
        task.exception()


@dataclass(frozen=True)
class Lines:
    """A block's scratch lines, with the counts that say how to stage them."""

    lines: list[str]
    tabs: int
    escapes: int  # backslashes
    nulls: int  # NULL markers


def split_lines(block: bytes) -> Lines:
    """A block of scratch lines (UTF-8, each ending in a line feed) as lines.

    Done by the event loop's thread, not the connection's: the block's text and lines are the commit's
    largest allocations, and made on another thread they can stay in that thread's own malloc arena (glibc)
    instead of reusing the memory validation freed."""
    if block and not block.endswith(b"\n"):
        # A cut line would be staged short, or dropped and counted unchanged: never from the block readers.
        raise ValueError("a block of scratch lines does not end with a whole line")
    text = block.decode()
    # Split on line feeds only: str.splitlines would also cut at characters a field may hold (U+2028, …).
    lines = text.split("\n")
    lines.pop()  # the empty string after the block's last line feed
    return Lines(lines, text.count("\t"), text.count(_ESCAPE), text.count(NULL))


def stage_split(db: sqlite3.Connection, lines: list[str]) -> None:
    """Lines without escapes into the staging table, STAGE_STATEMENT_ROWS a statement (fewer if SQLite binds
    fewer parameters): their fields come from one split of the joined lines, and each statement is one call
    into SQLite, where `executemany` steps (and takes the GIL back) once a row. The rest of the block, fewer
    rows than a statement holds, goes by `executemany`."""
    bound = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(STAGING_COLUMNS)
    per_statement = min(STAGE_STATEMENT_ROWS, bound)
    whole = len(lines) - len(lines) % per_statement if per_statement > 1 else 0
    statement = stage_rows_statement(per_statement)
    for start in range(0, whole, per_statement):
        db.execute(statement, "\t".join(lines[start : start + per_statement]).split("\t"))
    tab = "\t"
    db.executemany(STAGE_ROWS, (line.split(tab) for line in lines[whole:]))


@cache
def stage_rows_statement(rows: int) -> str:
    return f"INSERT INTO temp.import_staging VALUES {', '.join([_ROW_MARKS] * rows)}"  # noqa: S608


def exact_fields(line: str) -> list[str | None]:
    """A scratch line as stored text values (NULL as None), escapes undone."""
    return [
        None if field == NULL else unescape(field) if _ESCAPE in field else field
        for field in line.split("\t")
    ]


async def run_on_connection(connection: AsyncConnection, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work(db)` with the session's own sqlite3 connection, on the thread aiosqlite keeps for it, in the
    session's transaction.

    aiosqlite has no public call for this; SQLAlchemy's own aiosqlite adapter queues functions the same way
    (its isolation_level setter). A sqlite3 connection may only be used on the thread that made it.
    """
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection  # aiosqlite.Connection

    def call() -> T:
        return work(driver._conn)

    result: T = await driver._execute(call)
    return result


def stored_timestamp(connection: AsyncConnection) -> Any:
    """Now, in the form the timestamp columns store it (made by their own type)."""
    dialect = connection.dialect
    process = Credential.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    now = datetime.now(UTC)
    return process(now) if process is not None else now
