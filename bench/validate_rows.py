"""Validation alone: pass 1 of an import (`ValidationPass.validate`: read, check, in-file duplicates, holders
registered under another name, keyed hash, cipher and staging line of every clean row), nothing committed.

Prints rows/s (wall) and CPU µs a row (this process: its threads included, the database's not) for N title
rows written as bench.import_rows writes them, checked against the database given, migrated first. Runs the
`app` package Python finds first, so another tree is measured with PYTHONPATH=<tree> (its `ValidationPass`
must take the same arguments).

    .venv/bin/python -m bench.validate_rows --rows 200000 --database-url sqlite+aiosqlite:////tmp/v.db
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import time
from pathlib import Path

from app.bootstrap import prepare_database
from app.db import create_engine, create_sessionmaker
from app.imports.validation_pass import ValidationPass
from app.models import ImportJob
from app.privacy import PersonalDataVault
from app.settings import Settings
from bench.import_rows import BENCH_DIR, write_csv


async def no_progress(phase: str, rows: int) -> None:
    """Progress goes nowhere: the job row it would update is not stored."""


async def validate(settings: Settings, file: Path, batch_rows: int) -> dict[str, float]:
    await prepare_database(settings)
    engine = create_engine(settings)
    try:
        job = ImportJob(kind="title", file_format="csv", charset=None, default_region=None, on_error="abort")
        scan = ValidationPass(
            job,
            file,
            create_sessionmaker(engine),
            PersonalDataVault.from_settings(settings),
            batch_rows,
            100_000_000,
            no_progress,
        )
        wall, cpu = time.perf_counter(), time.process_time()
        await scan.validate()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        scan.scratch_path().unlink(missing_ok=True)
    finally:
        await engine.dispose()
    rows = scan.tally.total
    assert not scan.errors, scan.errors[:3]
    return {
        "rows": rows,
        "seconds": wall,
        "rows_per_s": rows / wall,
        "cpu_us_per_row": cpu / rows * 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", required=True, help="a SQLAlchemy URL (sqlite+aiosqlite, asyncpg)")
    parser.add_argument("--batch-rows", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    args = parser.parse_args()
    work = args.out / "validate"
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"titles-{args.rows}.csv"
    if not source.exists():
        write_csv(source, args.rows, run="V")
    file = work / "upload.csv"
    shutil.copyfile(source, file)
    settings = Settings(database_url=args.database_url, import_dir=work)
    figures = asyncio.run(validate(settings, file, args.batch_rows))
    file.unlink(missing_ok=True)
    print(json.dumps(figures))
    print(
        f"{figures['rows']:,} rows validated in {figures['seconds']:.2f} s: "
        f"{figures['rows_per_s']:,.0f} rows/s, {figures['cpu_us_per_row']:.1f} µs CPU a row, "
        f"peak RSS {figures['peak_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
