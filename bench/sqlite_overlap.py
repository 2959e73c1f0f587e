"""Can SQLite's import commit run beside validation in one process? It depends on how rows reach SQLite.

    .venv/bin/python -m bench.sqlite_overlap [--rows N]

Python's sqlite3 releases the GIL inside each sqlite3_step and takes it back after. `executemany` steps
once per row, so with another thread busy running Python (validation) each row waits for the GIL's switch
interval (5 ms) and the insert crawls. An `INSERT … SELECT` from a staging table is ONE step for the whole
set: SQLite's work runs without the GIL, beside the busy thread. This times, in one transaction each, on
scratch files deleted afterwards:
- `executemany`: rows of random keys into an indexed table, alone and beside a busy Python thread;
- `set-based`: the same rows, already in a TEMP table, copied by one INSERT … SELECT, alone and beside it;
  and how much Python work the busy thread got done meanwhile, against the same time alone.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path


def open_table(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.executescript(
        "DROP TABLE IF EXISTS t; CREATE TABLE t (k TEXT, n INTEGER); CREATE INDEX tk ON t (k);"
        "CREATE TEMP TABLE staged (k TEXT, n INTEGER);"
    )
    return db


def insert_rows(path: Path, values: list[tuple[str, int]]) -> float:
    """Seconds to insert the rows into an indexed table in one transaction, by executemany."""
    db = open_table(path)
    try:
        started = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO t VALUES (?, ?)", values)
        db.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        db.close()


def copy_rows(path: Path, values: list[tuple[str, int]]) -> float:
    """Seconds to copy the rows, already staged, into the indexed table by one INSERT … SELECT."""
    db = open_table(path)
    try:
        db.executemany("INSERT INTO staged VALUES (?, ?)", values)
        started = time.perf_counter()
        db.execute("BEGIN")
        db.execute("INSERT INTO t SELECT k, n FROM staged")
        db.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        db.close()


def beside_busy_thread(work: Callable[[], float]) -> tuple[float, int]:
    """`work`'s seconds while another thread runs Python, and how many loop turns that thread made."""
    stop = threading.Event()
    turns = [0]

    def busy() -> None:  # stands for validation: pure Python, never waiting
        count = 0
        while not stop.is_set():
            count += 1
        turns[0] = count

    spinner = threading.Thread(target=busy)
    spinner.start()
    try:
        seconds = work()
    finally:
        stop.set()
        spinner.join()
    return seconds, turns[0]


def idle(seconds: float) -> float:
    """Sleep: the busy thread then runs alone (the yardstick of its speed)."""
    time.sleep(seconds)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    values = [(os.urandom(16).hex(), n) for n in range(args.rows)]
    with tempfile.TemporaryDirectory() as scratch:
        for name, method in (("executemany", insert_rows), ("set-based", copy_rows)):
            alone = method(Path(scratch) / f"{name}-alone.sqlite", values)
            beside, turns = beside_busy_thread(partial(method, Path(scratch) / f"{name}.sqlite", values))
            alone_seconds, alone_turns = beside_busy_thread(partial(idle, 1.0))
            share = (turns / beside) / (alone_turns / alone_seconds)
            print(
                f"{name}: {args.rows:,} rows {alone:.3f} s alone, {beside:.3f} s beside a busy Python thread "
                f"({beside / alone:,.1f}x); the busy thread meanwhile ran at {share:.0%} of its speed alone",
                flush=True,
            )


if __name__ == "__main__":
    main()
