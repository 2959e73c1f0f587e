"""The in-file duplicate checks of an import: the same credential number twice, one holder document under
two names, or a work permit number under two holders (or a holder under two numbers). Kept in a scratch SQLite
file beside the upload, not in the process.

Every clean row adds its keys in batches through `executemany`: 16-byte digests keyed with a random key of
the run (a name or a number cannot be found again in the file by hashing guesses) and the holder's keyed
hash cut to 16 bytes;
the duplicates are found in one pass of set-based queries once the file has been read. Checking each row
against an in-memory table as it came cost ~9 µs a row in Python, a quarter of validation, and for ten
million rows needed about a gigabyte; here it is about a microsecond a row, and the page cache stays capped.
A later duplicate is therefore only known when the file is done. That changes nothing that is stored: an
all-or-nothing import with any rejected row is rolled back, and on_error=skip leaves rejected rows out of
its commit.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

FLUSH_ROWS: Final = 5000
CACHE_KIB: Final = 32 * 1024
SCHEMA: Final = """
CREATE TABLE row_keys (number BLOB NOT NULL, holder BLOB NOT NULL, name BLOB NOT NULL, row INTEGER NOT NULL);
CREATE TABLE permits (number BLOB NOT NULL, holder BLOB NOT NULL, row INTEGER NOT NULL);
"""
# Built once all rows are in: one sort each, instead of keeping a b-tree ordered through every insert.
INDEXES: Final = """
CREATE INDEX numbers_key ON row_keys (number, row);
CREATE INDEX holders_key ON row_keys (holder, row, name);
CREATE INDEX permits_number ON permits (number, row, holder);
CREATE INDEX permits_holder ON permits (holder, row, number);
"""
# Rows of keys seen more than once, each key's rows in file order.
REPEATED_NUMBERS: Final = """
SELECT number, row FROM row_keys
WHERE number IN (SELECT number FROM row_keys GROUP BY number HAVING count(*) > 1)
ORDER BY number, row
"""
RENAMED_HOLDERS: Final = """
SELECT holder, row, name FROM row_keys
WHERE holder IN (SELECT holder FROM row_keys GROUP BY holder HAVING min(name) <> max(name))
ORDER BY holder, row
"""

# Work permits (one number per person for life): a number under two holders, a holder under two numbers.
SHARED_PERMIT_NUMBERS: Final = """
SELECT number, row, holder FROM permits
WHERE number IN (SELECT number FROM permits GROUP BY number HAVING min(holder) <> max(holder))
ORDER BY number, row
"""
SECOND_PERMIT_NUMBERS: Final = """
SELECT holder, row, number FROM permits
WHERE holder IN (SELECT holder FROM permits GROUP BY holder HAVING min(number) <> max(number))
ORDER BY holder, row
"""


@dataclass(frozen=True)
class Repeat:
    """A row that repeats what `first` (an earlier row) already had."""

    first: int
    row: int


class InFileKeys:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.secret = secrets.token_bytes(32)
        path.unlink(missing_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        try:
            path.chmod(0o600)
            # A scratch index: no journal, no fsync; it is deleted with the run.
            pragmas = "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            self.db.executescript(f"{pragmas} PRAGMA cache_size = -{CACHE_KIB};{SCHEMA}")
            self.db.execute("BEGIN")
        except BaseException:
            self.close()
            raise
        # One row of keys per clean row (its number, its holder, the holder's name): one insert, not two.
        self.keys: list[tuple[bytes, bytes, bytes, int]] = []
        self.permits: list[tuple[bytes, bytes, int]] = []

    def add(self, row: int, number: str, holder_key: bytes, name: str) -> None:
        """A clean row: its credential number (with whatever else makes it unique), its holder's 16-byte key
        and the holder's name."""
        self.keys.append((self.digest(number), holder_key, self.digest(name), row))
        if len(self.keys) >= FLUSH_ROWS:
            self.flush()

    def add_many(
        self, rows: Sequence[int], numbers: Sequence[str], holder_keys: Sequence[bytes], names: Sequence[str]
    ) -> None:
        """`add` for a chunk of clean rows, the four sequences in step."""
        digest = self.digest
        self.keys.extend(zip(map(digest, numbers), holder_keys, map(digest, names), rows, strict=True))
        if len(self.keys) >= FLUSH_ROWS:
            self.flush()

    def add_permit(self, row: int, number: str, holder_key: bytes) -> None:
        """A clean permit row: its number alone (the same in every region) and its holder's key."""
        self.permits.append((self.digest(number), holder_key, row))

    def digest(self, text: str) -> bytes:
        return hashlib.blake2b(
            text.encode("utf-8", "surrogatepass"), digest_size=16, key=self.secret
        ).digest()

    def flush(self) -> None:
        self.db.executemany("INSERT INTO row_keys VALUES (?, ?, ?, ?)", self.keys)
        self.db.executemany("INSERT INTO permits VALUES (?, ?, ?)", self.permits)
        self.keys.clear()
        self.permits.clear()

    def find_repeats(self) -> tuple[list[Repeat], list[Repeat]]:
        """(rows repeating an earlier row's credential number, rows naming an earlier row's holder
        document with another name than that row gave), each in file order."""
        self.flush()
        self.db.executescript(INDEXES)
        numbers = [Repeat(first, row) for first, row in later_rows(self.db.execute(REPEATED_NUMBERS))]
        renamed = list(differing_rows(self.db.execute(RENAMED_HOLDERS)))
        return sorted(numbers, key=by_row), sorted(renamed, key=by_row)

    def find_permit_conflicts(self) -> list[Repeat]:
        """Rows whose permit number an earlier row gave another holder, or whose holder an earlier row gave
        another number, in file order. Call after find_repeats (which builds the indexes)."""
        conflicts = [*differing_rows(self.db.execute(SHARED_PERMIT_NUMBERS))]
        conflicts += differing_rows(self.db.execute(SECOND_PERMIT_NUMBERS))
        unique = {repeat.row: repeat for repeat in conflicts}  # a row may break both halves: reported once
        return sorted(unique.values(), key=by_row)

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)


def later_rows(rows: Iterator[tuple[bytes, int]]) -> Iterator[tuple[int, int]]:
    """(first row, later row) for every row after the first of its key; `rows` come ordered by key, row."""
    last_key, first = None, 0
    for key, row in rows:
        if key != last_key:
            last_key, first = key, row
        else:
            yield first, row


def differing_rows(rows: Iterator[tuple[bytes, int, bytes]]) -> Iterator[Repeat]:
    """Rows whose value differs from the first row's of the same key; `rows` come ordered by key, row."""
    last_key, first, first_value = None, 0, b""
    for key, row, value in rows:
        if key != last_key:
            last_key, first, first_value = key, row, value
        elif value != first_value:
            yield Repeat(first, row)


def by_row(repeat: Repeat) -> int:
    return repeat.row
