"""Why SQLite's import commit cannot run beside validation in the same process (bench/RESULTS.md).

    .venv/bin/python -m bench.sqlite_overlap

Python's sqlite3 releases the GIL only inside each row's sqlite3_step: `executemany` takes it back for every
row's bindings. With another thread busy running Python (validation), each of those takes waits for the GIL's
switch interval (5 ms), so the insert crawls. This times the same executemany alone and beside a busy
thread, on a scratch file deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path


def insert_rows(path: Path, rows: int) -> float:
    """Seconds to insert `rows` rows of random keys into an indexed table in one transaction."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.executescript(
            "DROP TABLE IF EXISTS t; CREATE TABLE t (k TEXT, n INTEGER); CREATE INDEX tk ON t (k);"
        )
        values = [(os.urandom(16).hex(), n) for n in range(rows)]
        started = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO t VALUES (?, ?)", values)
        db.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        alone = insert_rows(Path(scratch) / "alone.sqlite", args.rows)
        stop = threading.Event()

        def busy() -> None:  # stands for validation: pure Python, never waiting
            count = 0
            while not stop.is_set():
                count += 1

        spinner = threading.Thread(target=busy)
        spinner.start()
        try:
            beside = insert_rows(Path(scratch) / "beside.sqlite", args.rows)
        finally:
            stop.set()
            spinner.join()
    print(
        f"{args.rows:,} rows: {alone:.3f} s alone, {beside:.3f} s beside a busy Python thread "
        f"({beside / alone:,.0f}x)"
    )


if __name__ == "__main__":
    main()
