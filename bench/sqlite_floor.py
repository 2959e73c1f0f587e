"""The floor of SQLite's import commit: the rows the commit writes, inserted with plain `sqlite3.executemany`.

    .venv/bin/python -m bench.sqlite_floor --rows 1000000
    .venv/bin/python -m bench.sqlite_floor --scratch bench/out/floor/titles-1000000.csv.clean.tsv

1. Unless `--scratch` names a kept one, it writes the bench's title CSV (bench.import_rows.write_csv) and runs
   the app's own validation pass (app.imports.validation_pass) over it, against a SQLite database migrated
   and seeded as `huren serve` prepares it, and keeps the scratch file: the staging lines the commit reads.
2. Each target gets a copy of that database (migrated, seeded, the import's job row; no credential yet): the
   same schema, indexes and foreign keys, with the app's connection pragmas (foreign_keys, WAL,
   synchronous=NORMAL) and the commit's page cache.
3. `floor`: the lines are split into the rows' tuples (timed apart, as `parse`), then one transaction
   (BEGIN IMMEDIATE) inserts the issuers, the holders and the credentials, each with one `executemany`
   holding ids assigned in Python, in the file's order. `floor-sorted`: the same with holders sorted by
   `id_hash` and credentials by (kind, region, number), the unique keys. No look-up, no comparison: what
   SQLite's own inserts into these tables and indexes cost.
4. `app-parts`: the app's block writer called directly, as on the connection's thread: its staging
   `executemany` and its set-based statements timed apart.
5. `app`: the app's SQLite committer (app.imports.commit_choice) over the same scratch file, read as the
   job reads it, in one transaction committed at the end: the commit phase of `huren import` minus the
   progress bar.

Each line gives seconds and rows/s; `--out` gets a JSON file with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.bootstrap import prepare_database
from app.db import create_engine, create_sessionmaker
from app.imports import jobs, uploads
from app.imports.commit_choice import choose_committer
from app.imports.scratch import read_blocks
from app.imports.staging import COMPARED_FIELDS, NULL, STAGING_COLUMNS, unescape
from app.imports.validation_pass import ValidationPass
from app.models import Credential
from app.privacy import PersonalDataVault
from app.settings import Settings
from bench.import_rows import write_csv

BENCH_DIR = Path(__file__).resolve().parent
BATCH_ROWS = 2000  # HUREN_IMPORT_BATCH_ROWS' default
COMMIT_CACHE_KIB = 65536  # the page cache the app's commit sets
_INDEX = {name: index for index, name in enumerate(STAGING_COLUMNS)}
_STAGED = COMPARED_FIELDS[2:]  # the credential's own columns, bar holder_id and issuer_id
_HOLDER = ("id_type", "id_hash", "id_cipher", "id_masked", "holder_name", "birth_date", "sex")

INSERT_ISSUER = (
    "INSERT INTO organisations (id, usci, name, region_code, level, created_at) VALUES (?, ?, ?, ?, ?, ?)"
)
INSERT_HOLDER = (
    "INSERT INTO holders (id, id_type, id_hash, id_cipher, id_masked, name, birth_date, sex, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_CREDENTIAL = (
    "INSERT INTO credentials (kind, region_code, number, status, version, created_at, updated_at, "
    f"import_job_id, holder_id, issuer_id, {', '.join(_STAGED)}) "
    f"VALUES (?, ?, ?, 'active', 1, ?, ?, ?, ?, ?, {', '.join('?' for _ in _STAGED)})"
)


def settings_for(database: Path, import_dir: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{database}", import_dir=import_dir)


async def make_scratch(rows: int, work: Path) -> tuple[Path, Path, str]:
    """The bench CSV validated by the app's pass: (scratch file, template database, job id)."""
    template = remove_database(work / "template.db")
    settings = settings_for(template, work / "uploads")
    await prepare_database(settings)
    csv_file = work / f"titles-{rows}.csv"
    write_csv(csv_file, rows, run="F")
    engine = create_engine(settings)
    try:
        deps = jobs.ImportDeps.build(
            settings,
            sessionmaker=create_sessionmaker(engine),
            transactions=engine.begin,
            vault=PersonalDataVault.from_settings(settings),
            dialect="sqlite",
        )
        with csv_file.open("rb") as source:
            stored = uploads.store_file(source, settings.import_dir)
        job, _ = await jobs.create_job(
            deps,
            client_id="bench",
            actor=None,
            kind="title",
            mode="commit",
            on_error="abort",
            idempotency_key=None,
            stored=stored,
            file_name=csv_file.name,
            file_format="csv",
            charset=None,
            default_region=None,
        )

        async def quiet(phase: str, done: int) -> None:
            return None

        scan = ValidationPass(
            job,
            Path(job.file_path),
            deps.sessionmaker,
            deps.vault,
            deps.batch_rows,
            deps.max_rows,
            quiet,
            held_regions=deps.held_regions,
        )
        started = time.perf_counter()
        await scan.validate()
        print(f"validated {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
        if scan.tally.rejected_rows:
            raise SystemExit(f"{len(scan.tally.rejected_rows)} rows rejected: {scan.errors[:3]}")
        scratch = work / f"titles-{rows}.clean.tsv"
        shutil.move(scan.scratch_path(), scratch)
        discard(Path(job.file_path), csv_file)
    finally:
        await engine.dispose()
    checkpoint(template)
    return scratch, template, job.id


def remove_database(database: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    return database


def discard(*files: Path) -> None:
    for file in files:
        file.unlink(missing_ok=True)


def checkpoint(database: Path) -> None:
    """Fold the WAL into the file, so that copying the file copies the database."""
    db = sqlite3.connect(database)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def fresh_copy(template: Path, target: Path) -> Path:
    remove_database(target)
    shutil.copyfile(template, target)
    return target


def split_lines(scratch: Path) -> list[list[str | None]]:
    rows = []
    with scratch.open(encoding="utf-8", newline="\n") as lines:
        for line in lines:
            rows.append(
                [
                    None if field == NULL else unescape(field) if "\\" in field else field
                    for field in line.rstrip("\n").split("\t")
                ]
            )
    return rows


def stored_now() -> Any:
    """Now as the timestamp columns store it on SQLite (made by their own type)."""
    dialect = sqlite_dialect.dialect()
    process = Credential.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    now = datetime.now(UTC)
    return process(now) if process is not None else now


def open_target(database: Path) -> sqlite3.Connection:
    """A connection as the app opens one (app.db.install_sqlite_pragmas), with the commit's page cache."""
    db = sqlite3.connect(database, isolation_level=None, timeout=30)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA cache_size=-{COMMIT_CACHE_KIB}")
    return db


def floor_insert(
    database: Path, rows: Sequence[Sequence[str | None]], job_id: str, *, ordered: bool
) -> float:
    """Seconds for one transaction inserting the rows' issuers, holders and credentials by executemany."""
    db = open_target(database)
    try:
        now = stored_now()
        base = int(db.execute("SELECT coalesce(max(id), 0) FROM holders").fetchone()[0])
        issuer_base = int(db.execute("SELECT coalesce(max(id), 0) FROM organisations").fetchone()[0])
        issuers: dict[str | None, tuple[Any, ...]] = {}
        holders: dict[str | None, tuple[Any, ...]] = {}
        for fields in rows:
            usci = fields[_INDEX["issuer_usci"]]
            if usci not in issuers:
                issuers[usci] = (
                    issuer_base + len(issuers) + 1,
                    usci,
                    fields[_INDEX["issuer_name"]],
                    fields[_INDEX["region_code"]],
                    fields[_INDEX["issuer_level"]] or "city",
                    now,
                )
            id_hash = fields[_INDEX["id_hash"]]
            if id_hash not in holders:
                holders[id_hash] = (base + len(holders) + 1, *(fields[_INDEX[n]] for n in _HOLDER), now)
        credentials = [
            (
                fields[_INDEX["kind"]],
                fields[_INDEX["region_code"]],
                fields[_INDEX["number"]],
                now,
                now,
                job_id,
                holders[fields[_INDEX["id_hash"]]][0],
                issuers[fields[_INDEX["issuer_usci"]]][0],
                *(fields[_INDEX[name]] for name in _STAGED),
            )
            for fields in rows
        ]
        holder_rows = list(holders.values())
        if ordered:
            holder_rows.sort(key=lambda holder: holder[2])
            credentials.sort(key=lambda credential: credential[:3])
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.executemany(INSERT_ISSUER, list(issuers.values()))
        db.executemany(INSERT_HOLDER, holder_rows)
        db.executemany(INSERT_CREDENTIAL, credentials)
        db.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        db.close()


def app_parts(database: Path, scratch: Path, job_id: str) -> tuple[float, float, float]:
    """The app's block writer (app.imports.batched.BlockWriter) called directly on a sqlite3 connection, as
    on the connection's thread, in one transaction: (total, staging, statements) seconds."""
    # Imported here: `app` may be an older tree without them (README).
    from app.imports import batched

    db = open_target(database)
    try:
        writer = batched.BlockWriter(stored_now(), job_id)
        staging = statements = 0.0
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        writer.begin(db)
        for block, _ in read_blocks(scratch, set(), BATCH_ROWS * jobs.COPY_CHUNK_BATCHES * 256):
            mark = time.perf_counter()
            writer.stage(batched.split_lines(block), db)
            staging += time.perf_counter() - mark
            mark = time.perf_counter()
            writer.apply(db)
            statements += time.perf_counter() - mark
        writer.end(db)
        db.execute("COMMIT")
        return time.perf_counter() - started, staging, statements
    finally:
        db.close()


async def app_commit(database: Path, scratch: Path, job_id: str, file_size: int) -> float:
    """Seconds for the app's SQLite committer over the scratch file, in one committed transaction."""
    settings = settings_for(database, database.parent / "uploads")
    engine = create_engine(settings)
    try:
        sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
        with choose_committer(
            dialect="sqlite",
            on_error="abort",
            file_size=file_size,
            stream_max_bytes=0,
            pool_size=settings.db_pool_size,
            chunk_rows=settings.import_batch_rows * jobs.COPY_CHUNK_BATCHES,
            overlap=False,
            job_id=job_id,
        ) as committer:
            async with sessionmaker() as session:
                started = time.perf_counter()
                await committer.begin(session)
                for block, rows in read_blocks(scratch, set(), committer.block_rows * 256):
                    await committer.write(block, rows)
                counts = await committer.finish()
                await session.commit()
                seconds = time.perf_counter() - started
        if counts.inserted != line_count(scratch):
            raise SystemExit(f"the app's commit inserted {counts.inserted} rows")
        return seconds
    finally:
        await engine.dispose()


def line_count(path: Path) -> int:
    with path.open("rb") as source:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: source.read(1 << 20), b""))


def stored_credentials(database: Path) -> int:
    db = sqlite3.connect(database)
    try:
        return int(db.execute("SELECT count(*) FROM credentials").fetchone()[0])
    finally:
        db.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--scratch", type=Path, help="a scratch file kept by an earlier run (and its template.db)"
    )
    parser.add_argument("--job-id", help="the job id of that run (printed by it)")
    parser.add_argument("--targets", default="floor,floor-sorted,app")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    work = args.out / "floor"
    work.mkdir(parents=True, exist_ok=True)
    if args.scratch is None:
        scratch, template, job_id = asyncio.run(make_scratch(args.rows, work))
        print(f"scratch file {scratch}, job {job_id}", flush=True)
    else:
        if not args.job_id:
            raise SystemExit("--scratch needs --job-id")
        scratch, template, job_id = args.scratch, args.scratch.parent / "template.db", args.job_id
    rows = line_count(scratch)
    figures: dict[str, float] = {}
    for target in args.targets.split(","):
        database = fresh_copy(template, work / f"{target}.db")
        if target == "app":
            seconds = asyncio.run(app_commit(database, scratch, job_id, scratch.stat().st_size))
        elif target == "app-parts":
            seconds, staging, statements = app_parts(database, scratch, job_id)
            figures["app-parts_staging_seconds"] = staging
            figures["app-parts_statements_seconds"] = statements
            print(
                f"app-parts: staging {rows / staging:,.0f} rows/s, statements {rows / statements:,.0f} rows/s"
            )
        else:
            started = time.perf_counter()
            parsed = split_lines(scratch)
            figures["parse_seconds"] = time.perf_counter() - started
            seconds = floor_insert(database, parsed, job_id, ordered=target == "floor-sorted")
            del parsed
        if stored_credentials(database) != rows:
            raise SystemExit(f"{target}: {stored_credentials(database)} credentials stored, {rows} expected")
        figures[f"{target}_seconds"] = seconds
        figures[f"{target}_rows_per_s"] = rows / seconds
        print(f"{target}: {rows:,} rows in {seconds:.1f} s, {rows / seconds:,.0f} rows/s", flush=True)
        remove_database(database)
    if "parse_seconds" in figures:
        print(f"parse (lines split, not in the floor): {rows / figures['parse_seconds']:,.0f} rows/s")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"sqlite_floor-{stamp}.json").write_text(
        json.dumps({"rows": rows, "scratch": str(scratch), "figures": figures}, indent=2)
    )


if __name__ == "__main__":
    main()
