"""Bulk import throughput: N title rows from CSV into PostgreSQL and SQLite through `huren import`, with the
process's peak memory, and PostgreSQL's own COPY of the same file as the yardstick: into a logged table of the
file's typed columns (`typed_copy`, the fair one: the import must parse the values and write WAL too) and
into an unlogged text table (`raw_copy`, the floor of moving the bytes). bench/README.md says why.

Besides the end-to-end figure it reads the rate of each phase from the command's progress bars. On SQLite:
`validate` (pass 1) and `commit` (pass 2, every batch). On PostgreSQL an all-or-nothing import is one pass,
`commit`: rows validated and fed to the streamed commit (app/imports/set_based.py), which runs beside it; what
is left of the time after that bar is start-up and the last chunks.

    .venv/bin/python -m bench.import_rows --rows 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg

from app.domain.identity import compute_resident_id_check
from app.domain.uscc import compute_uscc_check
from app.imports.parsing import COLUMNS
from bench.load_registry import maintenance_dsn

BENCH_DIR = Path(__file__).resolve().parent
DSN = "postgresql://postgres@127.0.0.1:5432/huren_import_bench"
TITLE_CODES = ["0501", "0502", "0503", "0101", "0102", "0401", "0402"]


def write_csv(path: Path, rows: int, run: str) -> None:
    """Valid, distinct rows: one holder per row, a handful of issuers."""
    issuers = []
    for i in range(5):
        body = f"11510000{i + 1:08d}0"
        issuers.append((f"四川省某职称评审机构{i}", body + compute_uscc_check(body)))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS["title"])
        for i in range(rows):
            # (county, birth day, sequence) from i without repeats: every row is its own person.
            rest = i // 90
            born = date(1960, 1, 1) + timedelta(days=rest % 14_600)
            first17 = f"5101{i % 90 + 10:02d}{born:%Y%m%d}{(rest // 14_600) % 1000:03d}"
            issuer = issuers[i % 5]
            writer.writerow(
                [
                    "SC",
                    f"{run}{i:09d}",
                    f"张{chr(0x4E00 + i % 2000)}",
                    "resident_id",
                    first17 + compute_resident_id_check(first17),
                    issuer[0],
                    issuer[1],
                    "province",
                    "2022-06-01",
                    "",
                    "",
                    TITLE_CODES[i % 7],
                    "机械工程",
                    "2022-03-15",
                    "川人社职评〔2022〕12号",
                    "评审委员会",
                ]
            )


class BackendCpu:
    """The CPU time of the PostgreSQL backends serving one database, sampled from /proc while the import runs
    (the server runs on this machine): the database's side of the overlap, beside the import process's own."""

    def __init__(self, database: str | None) -> None:
        self.marker = f" {database} ".encode() if database else None
        self.ticks: dict[int, int] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        while not self.done.wait(0.5):
            self.read()
        self.read()

    def read(self) -> None:
        assert self.marker is not None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if self.marker not in (entry / "cmdline").read_bytes().replace(b"\0", b" ") + b" ":
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            self.ticks[int(entry.name)] = int(fields[11]) + int(fields[12])

    def __enter__(self) -> BackendCpu:
        if self.marker is not None:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.marker is not None:
            self.done.set()
            self.thread.join()

    @property
    def seconds(self) -> float:
        # Every backend of the database was opened by the import (the database is made for the run).
        return sum(self.ticks.values()) / os.sysconf("SC_CLK_TCK")

    @property
    def busiest_seconds(self) -> float:
        """The backend that did the most: the commit's (the others answer validation's look-ups)."""
        return max(self.ticks.values(), default=0) / os.sysconf("SC_CLK_TCK")


def run_import(
    database_url: str, file: Path, import_dir: Path, stream_max_mb: int | None = None
) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUREN_")}
    env |= {"HUREN_DATABASE_URL": database_url, "HUREN_IMPORT_DIR": str(import_dir), "COLUMNS": "120"}
    if stream_max_mb is not None:
        env["HUREN_IMPORT_STREAM_MAX_BYTES"] = str(stream_max_mb * 1024**2)
    huren = str(Path(sys.executable).with_name("huren"))
    database = database_url.rsplit("/", 1)[1] if database_url.startswith("postgresql") else None
    started = time.perf_counter()
    with BackendCpu(database) as backends:
        done = subprocess.run(
            ["/usr/bin/time", "-v", huren, "import", str(file), "--kind", "title"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    figures = {"seconds": seconds, "peak_rss_mb": int(rss[1]) / 1024 if rss else float("nan")}
    cpu = re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", done.stderr)
    figures["import_cpu_s"] = sum(float(value) for value in cpu)
    if database:
        # Both sides' CPU over the wall time: 2.0 would be both cores busy the whole run (this machine's two).
        figures["postgres_cpu_s"] = backends.seconds
        # The commit's backend busy over the wall time: below 1 it waited (for rows, or for this process to
        # read its answer and send the next chunk).
        figures["commit_backend_busy"] = backends.busiest_seconds / seconds
        figures["cores_busy"] = (figures["import_cpu_s"] + backends.seconds) / seconds
    for phase, rate in re.findall(r"^\s*(validate|commit)\b.*?([\d,]+) rows/s", done.stdout, re.MULTILINE):
        figures[f"{phase}_rows_per_s"] = float(rate.replace(",", ""))
    return figures


async def recreate(dsn: str) -> None:
    admin = await asyncpg.connect(maintenance_dsn(dsn))
    try:
        name = dsn.rsplit("/", 1)[1]
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


DATE_COLUMNS = frozenset({"issued_on", "valid_from", "valid_until", "obtained_on"})


async def copy_file(dsn: str, file: Path, *, typed: bool) -> float:
    """COPY the same CSV into a table of its columns, with no index, key or trigger.

    typed=False: an UNLOGGED table of text columns, the floor any import pays to move the bytes (no WAL, no
    parsing of a value). typed=True, the yardstick of issue 19: an ordinary (logged) table whose date columns
    are dates, so PostgreSQL parses every value and writes the WAL a durable table needs, as the import must.
    """
    conn = await asyncpg.connect(dsn)
    try:
        columns = ", ".join(
            f'"{c}" {"date" if typed and c in DATE_COLUMNS else "text"}' for c in COLUMNS["title"]
        )
        kind = "" if typed else "UNLOGGED "
        await conn.execute(
            f"DROP TABLE IF EXISTS copy_yardstick; CREATE {kind}TABLE copy_yardstick ({columns})"
        )
        started = time.perf_counter()
        await conn.copy_to_table("copy_yardstick", source=str(file), format="csv", header=True)
        seconds = time.perf_counter() - started
        await conn.execute("DROP TABLE copy_yardstick")
        return seconds
    finally:
        await conn.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--targets", default="postgresql,sqlite")
    parser.add_argument("--dsn", default=DSN, help="PostgreSQL database to drop, create and import into")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument(
        "--stream-max-mb",
        type=int,
        help="HUREN_IMPORT_STREAM_MAX_BYTES in MiB (default: the setting's); files up to it stream",
    )
    parser.add_argument(
        "--keep-file",
        action="store_true",
        help="reuse the CSV of an earlier run with --keep-file, and keep it",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "import"
    work.mkdir(exist_ok=True)
    file = work / f"titles-{args.rows}.csv"
    started = time.perf_counter()
    if not (args.keep_file and file.exists()):
        write_csv(file, args.rows, run="I")
    size_mb = file.stat().st_size / 1e6
    print(f"wrote {args.rows:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - started:.0f} s", flush=True)
    results: dict[str, dict[str, float]] = {}
    for target in args.targets.split(","):
        if target == "postgresql":
            asyncio.run(recreate(args.dsn))
            for name, typed in (("postgresql_raw_copy", False), ("postgresql_typed_copy", True)):
                copy_seconds = [asyncio.run(copy_file(args.dsn, file, typed=typed)) for _ in range(3)]
                results[name] = {"seconds": statistics.median(copy_seconds)}
                print(f"{name}: {args.rows / results[name]['seconds']:,.0f} rows/s", flush=True)
            url = args.dsn.replace("postgresql://", "postgresql+asyncpg://")
        else:
            database = work / "import-bench.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)
            url = f"sqlite+aiosqlite:///{database}"
        results[target] = run_import(url, file, work / "uploads", args.stream_max_mb)
        figures = results[target]
        phases = ", ".join(
            f"{phase} {figures[f'{phase}_rows_per_s']:,.0f} rows/s"
            for phase in ("validate", "commit")
            if f"{phase}_rows_per_s" in figures
        )
        cpu = f"CPU: import {figures['import_cpu_s']:.1f} s"
        if "postgres_cpu_s" in figures:
            cpu += (
                f", PostgreSQL {figures['postgres_cpu_s']:.1f} s, {figures['cores_busy']:.2f} cores busy, "
                f"commit backend {figures['commit_backend_busy']:.0%} busy"
            )
        print(
            f"{target}: {args.rows / figures['seconds']:,.0f} rows/s end to end, "
            f"peak RSS {figures['peak_rss_mb']:.0f} MB; {phases}; {cpu}",
            flush=True,
        )
    for figures in results.values():
        figures["rows_per_s"] = args.rows / figures["seconds"]
    for yardstick in ("raw_copy", "typed_copy"):
        if f"postgresql_{yardstick}" in results:
            floor = results[f"postgresql_{yardstick}"]["rows_per_s"]
            for figures in results.values():
                figures[f"ratio_to_{yardstick}"] = figures["rows_per_s"] / floor
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"import_rows-{stamp}.json").write_text(
        json.dumps({"rows": args.rows, "stream_max_mb": args.stream_max_mb, "results": results}, indent=2)
    )
    print(json.dumps(results, indent=2))
    if not args.keep_file:
        file.unlink()


if __name__ == "__main__":
    main()
