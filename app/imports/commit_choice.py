"""The one place that chooses how an import's rows are committed: a strategy behind the `Committer`
interface (app.imports.committer).

- PostgreSQL, all-or-nothing, file up to HUREN_IMPORT_STREAM_MAX_BYTES, a slot free: `StreamedUpsert`
  (app.imports.set_based), fed while validation goes on.
- PostgreSQL otherwise: `TwoPassUpsert` (app.imports.set_based), the scratch file after validation.
- SQLite: `BatchedUpsert` (app.imports.batched) in blocks of `chunk_rows`: fed while validation goes on
  under the same conditions as PostgreSQL's stream (one at a time), else the scratch file after validation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.imports.batched import BatchedUpsert
from app.imports.committer import Committer
from app.imports.set_based import StreamedUpsert, TwoPassUpsert


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


@contextmanager
def choose_committer(
    *,
    dialect: str,
    on_error: str,
    file_size: int,
    stream_max_bytes: int,
    pool_size: int,
    chunk_rows: int,
    overlap: bool,
    job_id: str | None = None,
) -> Iterator[Committer]:
    """The strategy for one commit, held for as long as the commit runs."""
    sqlite = dialect != "postgresql"
    streamed = (
        # With on_error=skip a row can be rejected after it was fed (its duplicate comes later in the file).
        on_error != "skip"
        # Streaming pays while the tables' indexes stay in PostgreSQL's buffer cache. A large file's chunks
        # each insert and probe holders at random places of an id_hash index that no longer fits (10M rows,
        # stock settings: 7,100 rows/s and falling, where two passes gave 12,750; bench/RESULTS.md).
        and file_size <= stream_max_bytes
        # SQLite's block statements run beside validation only on a connection of their own.
        and (overlap or not sqlite)
        # SQLite has one writer: a streamed commit holds the write lock from the first row validated, so a
        # second import at the same time takes two passes (only its commit waits for the lock). On
        # PostgreSQL each streamed commit holds a pooled connection for its whole validation: at most a
        # quarter of the pool, so imports alone never take it from requests. Beyond that, the two passes.
        and STREAMED_COMMITS.take(1 if sqlite else max(1, pool_size // 4))
    )
    try:
        if sqlite:
            yield BatchedUpsert(chunk_rows, job_id, streams=streamed)
        elif streamed:
            yield StreamedUpsert(chunk_rows, job_id=job_id, overlap=overlap)
        else:
            yield TwoPassUpsert(chunk_rows, job_id)
    finally:
        if streamed:
            STREAMED_COMMITS.give_back()
