"""What PostgreSQL itself needs to store N title rows in the schema an import writes to, piece by piece.

The import's speed target is set against COPY into a table without indexes or triggers. The schema the issue
keeps is not that table: holders with their unique keyed hash and name index, credentials with their unique
key, six more indexes, and the foreign keys to holders and issuers. This measures the floor that schema sets
for any import path, whatever its client does: the same N rows, already in the server (a source table filled
once, not timed), inserted by one `INSERT … SELECT` into fresh copies of `holders` and `credentials` in a
scratch schema, with one more piece of the real schema at each step. The indexes are the real ones, read from
the catalogue (`pg_indexes`) and renamed, so the steps follow the migrations. A step's extra time over the one
before is that piece's cost a row. Each step starts after a CHECKPOINT, as a real import mostly does, so every
first write of a page costs its full-page image in the WAL; the figures include the WAL bytes and full-page
images a row.

    .venv/bin/python -m bench.store_floor --rows 1000000 --dsn postgresql://postgres@127.0.0.1:5432/huren_store_floor
    .venv/bin/python -m bench.store_floor --rows 10000000 --only full --dsn …   # linearity of the floor
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.import_commit import proc_cpu_seconds
from bench.load_registry import migrate_and_seed, recreate_database

BENCH_DIR = Path(__file__).resolve().parent

# The rows, made once in the server: one holder a row in a random keyed-hash order (as HMACs are), as the
# hex text an import stages (holders keep its bytes); five issuers; title rows as bench.import_rows
# writes them.
FILL_SOURCE = """
CREATE TABLE floor.source AS
SELECT i AS holder_id,
       encode(sha256(int8send(i)), 'hex') AS id_hash,
       'v1:' || encode(sha256(int8send(-i)), 'base64') AS id_cipher,
       '5101**********' || lpad((i % 10000)::text, 4, '0') AS id_masked,
       '张' || chr(19968 + (i % 2000)::int) AS holder_name,
       date '1960-01-01' + (i % 14600)::int AS birth_date,
       'F'::text AS sex,
       'S' || lpad(i::text, 9, '0') AS number,
       1 + (i % 5) AS issuer_id,
       (ARRAY['0501','0502','0503','0101','0102','0401','0402'])[1 + (i % 7)] AS title_code
FROM generate_series(1, $1::bigint) AS i
"""
ISSUERS = """
CREATE TABLE floor.organisations (LIKE public.organisations INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE floor.organisations ADD PRIMARY KEY (id);
INSERT INTO floor.organisations (id, usci, name, region_code, level, created_at)
SELECT n, '9151000000000000' || n || 'X', '评审机构' || n, 'SC', 'province', now()
FROM generate_series(1, 5) AS n;
"""
INSERT_HOLDERS = """
INSERT INTO floor.holders (id, id_type, id_hash, id_cipher, id_masked, name, birth_date, sex,
    created_at)
SELECT holder_id, 'resident_id', decode(id_hash, 'hex'), id_cipher, id_masked, holder_name, birth_date, sex,
    now()
FROM floor.source ORDER BY holder_id
"""
INSERT_CREDENTIALS = """
INSERT INTO floor.credentials (id, kind, region_code, number, holder_id, issuer_id, status, issued_on,
    version, import_job_id, created_at, updated_at, title_code, specialty, obtained_on, approval_no,
    review_body)
SELECT holder_id, 'title', 'SC', number, holder_id, issuer_id, 'active', date '2022-06-01', 1,
    '0123456789abcdef0123456789abcdef', now(), now(), title_code, '机械工程', date '2022-03-15',
    '川人社职评〔2022〕12号', '评审委员会'
FROM floor.source ORDER BY holder_id
"""
# The import's statement shape: an upsert on the unique key that rewrites only changed rows.
ON_CONFLICT = {
    "holders": " ON CONFLICT (id_hash) DO NOTHING",
    "credentials": (
        " ON CONFLICT (kind, region_code, number) DO UPDATE SET title_code = EXCLUDED.title_code,"
        " version = floor.credentials.version + 1"
        " WHERE floor.credentials.title_code IS DISTINCT FROM EXCLUDED.title_code"
    ),
}
FOREIGN_KEYS = {
    "fk holder_id": "ALTER TABLE floor.credentials ADD FOREIGN KEY (holder_id) REFERENCES floor.holders (id)",
    "fk issuer_id": (
        "ALTER TABLE floor.credentials ADD FOREIGN KEY (issuer_id) REFERENCES floor.organisations (id)"
    ),
}


async def real_indexes(conn: asyncpg.Connection, table: str) -> list[tuple[str, str]]:
    """The table's indexes as the migrations made them, primary key first, as statements on floor.<table>."""
    rows = await conn.fetch(
        "SELECT i.indexname, i.indexdef, x.indisprimary FROM pg_indexes i"
        " JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid"
        " WHERE i.schemaname = 'public' AND i.tablename = $1"
        " ORDER BY x.indisprimary DESC, x.indisunique DESC, i.indexname",
        table,
    )
    statements = []
    for row in rows:
        definition = row["indexdef"].replace(f"ON public.{table} ", f"ON floor.{table} ")
        definition = re.sub(r"INDEX \S+ ON", f"INDEX floor_{row['indexname']} ON", definition, count=1)
        statements.append((row["indexname"], definition))
    return statements


async def create_table(conn: asyncpg.Connection, table: str, pieces: list[str]) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS floor.{table} CASCADE")
    await conn.execute(
        f"CREATE TABLE floor.{table} (LIKE public.{table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    for piece in pieces:
        await conn.execute(piece)


async def wal_position(conn: asyncpg.Connection) -> tuple[int, int, int]:
    """WAL bytes written so far (exact, from the insert position), full-page images and checkpoints
    (cumulative statistics, which a backend reports at most once a second unless told to flush them)."""
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await conn.execute("SELECT 1")  # the end of this statement reports the backend's statistics
    lsn = int(await conn.fetchval("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn"))
    fpi = int(await conn.fetchval("SELECT wal_fpi FROM pg_stat_wal"))
    checkpoints = int(await conn.fetchval("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"))
    return lsn, fpi, checkpoints


async def timed_insert(conn: asyncpg.Connection, statement: str, rows: int) -> dict[str, float]:
    await conn.execute("CHECKPOINT")
    backend = int(await conn.fetchval("SELECT pg_backend_pid()"))
    (lsn, fpi, checkpoints), cpu_before = await wal_position(conn), proc_cpu_seconds(backend)
    started = time.perf_counter()
    await conn.execute(statement)
    seconds = time.perf_counter() - started
    cpu = proc_cpu_seconds(backend) - cpu_before
    lsn_after, fpi_after, checkpoints_after = await wal_position(conn)
    return {
        "us_per_row": seconds / rows * 1e6,
        "cpu_us_per_row": cpu / rows * 1e6,
        "wal_bytes_per_row": (lsn_after - lsn) / rows,
        "fpi_per_1000_rows": (fpi_after - fpi) / rows * 1000,
        "checkpoints": checkpoints_after - checkpoints,
    }


async def run_steps(dsn: str, rows: int, only_full: bool) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    results: list[dict[str, Any]] = []
    try:
        await conn.execute("DROP SCHEMA IF EXISTS floor CASCADE; CREATE SCHEMA floor")
        await conn.execute(FILL_SOURCE, rows)
        await conn.execute(ISSUERS)
        await conn.execute("ANALYZE floor.source")

        async def step(name: str, table: str, pieces: list[str], statement: str) -> None:
            await create_table(conn, table, pieces)
            figures = await timed_insert(conn, statement, rows)
            results.append({"step": name, "table": table, **figures})
            print(json.dumps(results[-1]), flush=True)

        for table, insert in (("holders", INSERT_HOLDERS), ("credentials", INSERT_CREDENTIALS)):
            indexes = await real_indexes(conn, table)
            steps: list[tuple[str, list[str], str]] = [("heap only", [], insert)]
            pieces: list[str] = []
            for name, definition in indexes:
                pieces = [*pieces, definition]
                steps.append((f"+ {name}", pieces, insert))
            if table == "credentials":
                for name, definition in FOREIGN_KEYS.items():
                    pieces = [*pieces, definition]
                    steps.append((f"+ {name}", pieces, insert))
            steps.append(("+ ON CONFLICT (the import's statement)", pieces, insert + ON_CONFLICT[table]))
            for name, step_pieces, statement in steps[-1:] if only_full else steps:
                await step(name, table, step_pieces, statement)
    finally:
        await conn.close()
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--only", choices=["full"], help="only the last step of each table (the whole schema)"
    )
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/huren_store_floor")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    return parser.parse_args()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    await recreate_database(args.dsn)
    await migrate_and_seed(args.dsn)
    conn = await asyncpg.connect(args.dsn)
    try:
        settings = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in (
                "server_version",
                "shared_buffers",
                "max_wal_size",
                "checkpoint_timeout",
                "wal_compression",
            )
        }
    finally:
        await conn.close()
    steps = await run_steps(args.dsn, args.rows, args.only == "full")
    return {"rows": args.rows, "settings": settings, "cpus": os.cpu_count(), "steps": steps}


def main() -> None:
    args = parse_args()
    results = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"store_floor-{stamp}.json").write_text(json.dumps(results, indent=2))
    print(f"store_floor-{stamp}.json")


if __name__ == "__main__":
    main()
