"""The PostgreSQL side of an import alone: N clean title rows, already in the staging format
(app/imports/staging.py), fed to the import's own committer (app/imports/set_based.py) as fast as it
takes them.

No validation runs, so the figure is what the database's work allows: the time from the first chunk to the
commit, the CPU of the PostgreSQL backend that did the work, and the WAL it wrote (with the full-page images,
which grow with an index that no longer fits in shared buffers). `--registry N` first imports N other rows,
so the same import can be timed against a larger registry.

    .venv/bin/python -m bench.import_commit --rows 1000000 --dsn postgresql://postgres@127.0.0.1:5432/db
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from app.db import create_engine, create_sessionmaker
from app.imports.committer import Committer
from app.imports.set_based import StreamedUpsert, TwoPassUpsert
from app.imports.staging import encode_line
from app.settings import Settings
from bench.load_registry import migrate_and_seed, recreate_database, sqlalchemy_url

BENCH_DIR = Path(__file__).resolve().parent
TITLE_CODES = ["0501", "0502", "0503", "0101", "0102", "0401", "0402"]
ISSUERS = [f"9151000000000000{i}X" for i in range(5)]


def staging_lines(first: int, rows: int, run: str) -> Iterator[str]:
    """Clean title rows as scratch lines: every row its own holder (a keyed-hash-like id_hash, random against
    the file order, as the real ones are), a handful of issuers, numbers rising with the row."""
    cipher = "v1:" + "A" * 76
    for i in range(first, first + rows):
        id_hash = hashlib.sha256(f"{run}{i}".encode()).hexdigest()
        born = date(1960, 1, 1) + timedelta(days=i % 14_600)
        yield encode_line(
            (
                str(i + 2),
                id_hash,
                "resident_id",
                cipher,
                "5101**********123X",
                f"张{chr(0x4E00 + i % 2000)}",
                born.isoformat(),
                "M",
                ISSUERS[i % 5],
                f"四川省某职称评审机构{i % 5}",
                "province",
                "title",
                "SC",
                f"{run}{i:09d}",
                "2022-06-01",
                None,
                None,
                TITLE_CODES[i % 7],
                "机械工程",
                "2022-03-15",
                "川人社职评〔2022〕12号",
                "评审委员会",
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            )
        )


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (the PostgreSQL backend runs on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wal_figures(dsn: str) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
        checkpoints = await conn.fetchval("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
        assert row is not None
        return {"wal_fpi": row["wal_fpi"], "wal_bytes": float(row["wal_bytes"]), "checkpoints": checkpoints}
    finally:
        await conn.close()


async def import_lines(
    dsn: str, first: int, rows: int, run: str, path: str, chunk_rows: int
) -> dict[str, Any]:
    engine = create_engine(Settings(database_url=sqlalchemy_url(dsn)))
    before = await wal_figures(dsn)
    try:
        async with create_sessionmaker(engine)() as session:
            backend = int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            cpu_before = proc_cpu_seconds(backend)
            committer: Committer = (
                StreamedUpsert(chunk_rows, job_id=None) if path == "streamed" else TwoPassUpsert(chunk_rows)
            )
            started = time.perf_counter()
            await committer.begin(session)
            block: list[str] = []
            for line in staging_lines(first, rows, run):
                block.append(line)
                if len(block) == 2000:
                    await committer.write("".join(block).encode(), len(block))
                    block = []
                    # Yield as validation does between its batches: the writer task reads PostgreSQL's
                    # answers and sends the next chunk only when this loop lets it run.
                    await asyncio.sleep(0)
            if block:
                await committer.write("".join(block).encode(), len(block))
            fed = time.perf_counter() - started
            counts = await committer.finish()
            await session.commit()
            seconds = time.perf_counter() - started
            backend_cpu = proc_cpu_seconds(backend) - cpu_before
    finally:
        await engine.dispose()
    after = await wal_figures(dsn)
    return {
        "rows": rows,
        "path": path,
        "seconds": seconds,
        "fed_seconds": fed,
        "rows_per_s": rows / seconds,
        "backend_cpu_us_per_row": backend_cpu / rows * 1e6,
        "inserted": counts.inserted,
        "wal_mb": (after["wal_bytes"] - before["wal_bytes"]) / 1e6,
        "wal_fpi": after["wal_fpi"] - before["wal_fpi"],
        "checkpoints": after["checkpoints"] - before["checkpoints"],
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--registry", type=int, default=0, help="rows imported first (not timed)")
    parser.add_argument("--path", choices=["streamed", "two-pass"], default="streamed")
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/huren_import_commit_bench")
    parser.add_argument("--keep", action="store_true", help="reuse the database as it is")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    return parser.parse_args()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if not args.keep:
        await recreate_database(args.dsn)
        await migrate_and_seed(args.dsn)
    results: dict[str, Any] = {}
    if args.registry:
        results["registry"] = await import_lines(args.dsn, 0, args.registry, "R", args.path, args.chunk_rows)
        print(json.dumps(results["registry"]), flush=True)
    results["import"] = await import_lines(args.dsn, 0, args.rows, "I", args.path, args.chunk_rows)
    print(json.dumps(results["import"]), flush=True)
    return results


def main() -> None:
    args = parse_args()
    results = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"import_commit-{stamp}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
