"""The in-file duplicate checks of an import: the same credential number twice, one holder document under
two names, or a work permit number under two holders (or a holder under two numbers). Kept in scratch files
beside the upload, not in the process.

Every clean row adds its keys: 16-byte digests keyed with a random key of the run (a name or a number cannot
be found again in the files by hashing guesses) and the holder's keyed hash cut to 16 bytes. They are
appended, in batches and as hex text, to one file per check and per 1/256th of the keys (by the key's first
two hex digits), so that once the file has been read each part is grouped on its own in polars: the memory
is that of one part (1/256th of the rows: 39,000 at ten million), whatever the size of the import. With
sixteen parts, a ten-million-row import read 625,000 rows a part at its end. The parts' files are opened for
each batch and closed after it: 1,024 held open would be a file descriptor each.

A scratch SQLite index did the same at about 3 µs a row (inserts, then building two indexes); an in-memory
table needed about a gigabyte for ten million rows. A later duplicate is therefore only known when the file
is done. That changes nothing that is stored: an all-or-nothing import with any rejected row is rolled back,
and on_error=skip leaves rejected rows out of its commit.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl

FLUSH_ROWS: Final = 50_000
PART_DIGITS: Final = 2  # hex digits of the key that name its part: 256 parts


@dataclass(frozen=True)
class Check:
    """One check's files: the key its rows are grouped by, the value that must not differ within a key (None:
    the key must not repeat at all), and the columns written, in order."""

    key: str
    value: str | None
    columns: tuple[str, ...]


CHECKS: Final = {
    "numbers": Check("number", None, ("number", "row")),
    "holders": Check("holder", "name", ("holder", "name", "row")),
    "permit_numbers": Check("number", "holder", ("number", "holder", "row")),
    "permit_holders": Check("holder", "number", ("number", "holder", "row")),
}


@dataclass(frozen=True)
class Repeat:
    """A row that repeats what `first` (an earlier row) already had."""

    first: int
    row: int


class InFileKeys:
    def __init__(self, path: Path) -> None:
        """`path` becomes a private scratch directory, deleted by close()."""
        self.path = path
        self.secret = secrets.token_bytes(32)
        self.keyed = hashlib.blake2b(digest_size=16, key=self.secret)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(mode=0o700)
        self.parts: set[tuple[str, str]] = set()  # (check, part) of every file written
        # The keys not yet written, a list per column (a frame is made of columns).
        self.keys: dict[str, list[Any]] = {"number": [], "holder": [], "name": [], "row": []}
        self.permits: dict[str, list[Any]] = {"number": [], "holder": [], "row": []}

    def add(self, row: int, number: str, holder_key: bytes, name: str) -> None:
        """A clean row: its credential number (with whatever else makes it unique), its holder's 16-byte key
        and the holder's name."""
        self.add_many([row], [number], [holder_key], [name])

    def add_many(
        self, rows: Sequence[int], numbers: Sequence[str], holder_keys: Sequence[bytes], names: Sequence[str]
    ) -> None:
        """`add` for a chunk of clean rows, the four sequences in step."""
        keys = self.keys
        keys["number"] += map(self.digest, numbers)
        keys["holder"] += holder_keys
        keys["name"] += map(self.digest, names)
        keys["row"] += rows
        if len(keys["row"]) >= FLUSH_ROWS:
            self.flush()

    def add_permit(self, row: int, number: str, holder_key: bytes) -> None:
        """A clean permit row: its number alone (the same in every region) and its holder's key."""
        self.permits["number"].append(self.digest(number))
        self.permits["holder"].append(holder_key)
        self.permits["row"].append(row)

    def digest(self, text: str) -> bytes:
        """The keyed BLAKE2b of the text (16 bytes): a copy of the keyed state, not a new one per value."""
        state = self.keyed.copy()
        state.update(text.encode("utf-8", "surrogatepass"))
        return state.digest()

    def flush(self) -> None:
        if self.keys["row"]:
            frame = hex_frame(self.keys)
            self.append("numbers", frame)
            self.append("holders", frame)
        if self.permits["row"]:
            frame = hex_frame(self.permits)
            self.append("permit_numbers", frame)
            self.append("permit_holders", frame)

    def append(self, check: str, frame: pl.DataFrame) -> None:
        """The rows' keys to the files of their parts (by the first hex digits of the check's key)."""
        spec = CHECKS[check]
        parted = frame.select(spec.columns).with_columns(
            pl.col(spec.key).str.head(PART_DIGITS).alias("__part")
        )
        for (part,), rows in parted.partition_by("__part", as_dict=True, include_key=False).items():
            self.parts.add((check, str(part)))
            # Written by Python: a full disk then raises OSError (ENOSPC), at the write or the close, which
            # the job recognises.
            with self.part_path(check, str(part)).open("ab") as handle:
                handle.write(rows.write_csv(include_header=False).encode())

    def part_path(self, check: str, part: str) -> Path:
        return self.path / f"{check}-{part}.csv"

    def find_repeats(self) -> tuple[list[Repeat], list[Repeat]]:
        """(rows repeating an earlier row's credential number, rows naming an earlier row's holder
        document with another name than that row gave), each in file order."""
        self.flush()
        numbers = [Repeat(first, row) for first, row in later_rows(self.repeated("numbers"))]
        renamed = list(differing_rows(self.repeated("holders")))
        return sorted(numbers, key=by_row), sorted(renamed, key=by_row)

    def find_permit_conflicts(self) -> list[Repeat]:
        """Rows whose permit number an earlier row gave another holder, or whose holder an earlier row gave
        another number, in file order."""
        self.flush()
        conflicts = [*differing_rows(self.repeated("permit_numbers"))]
        conflicts += differing_rows(self.repeated("permit_holders"))
        unique = {repeat.row: repeat for repeat in conflicts}  # a row may break both halves: reported once
        return sorted(unique.values(), key=by_row)

    def repeated(self, check: str) -> Iterator[tuple[object, ...]]:
        """(key, row[, value]) of every key that repeats (with differing values, for a check with a value),
        ordered by key and row: one part of the keys in memory at a time."""
        spec = CHECKS[check]
        wanted = [spec.key, "row"] if spec.value is None else [spec.key, "row", spec.value]
        schema = {name: pl.Int64 if name == "row" else pl.String for name in spec.columns}
        for name, part_name in sorted(self.parts):
            if name != check:
                continue
            part = pl.read_csv(self.part_path(name, part_name), has_header=False, schema=schema)
            if spec.value is None:
                found = part.filter(pl.col(spec.key).is_duplicated())
            else:
                found = part.filter(pl.col(spec.value).n_unique().over(spec.key) > 1)
            yield from found.select(wanted).sort(spec.key, "row").iter_rows()

    def close(self) -> None:
        """The files go, whatever was written (each was closed after its write)."""
        shutil.rmtree(self.path, ignore_errors=True)


def hex_frame(columns: dict[str, list[Any]]) -> pl.DataFrame:
    """Columns of digests (bytes) and row numbers as a frame of hex text and rows; the lists are emptied."""
    frame = pl.DataFrame(
        {
            name: pl.Series(values, dtype=pl.Int64 if name == "row" else pl.Binary)
            for name, values in columns.items()
        }
    )
    for values in columns.values():
        values.clear()
    return frame.with_columns(pl.col(pl.Binary).bin.encode("hex"))


def later_rows(rows: Iterable[tuple[object, ...]]) -> Iterator[tuple[int, int]]:
    """(first row, later row) for every row after the first of its key; `rows` come ordered by key, row."""
    last_key, first = None, 0
    for key, row in rows:
        assert isinstance(row, int)
        if key != last_key:
            last_key, first = key, row
        else:
            yield first, row


def differing_rows(rows: Iterable[tuple[object, ...]]) -> Iterator[Repeat]:
    """Rows whose value differs from the first row's of the same key; `rows` come ordered by key, row."""
    last_key, first, first_value = None, 0, None
    for key, row, value in rows:
        assert isinstance(row, int)
        if key != last_key:
            last_key, first, first_value = key, row, value
        elif value != first_value:
            yield Repeat(first, row)


def by_row(repeat: Repeat) -> int:
    return repeat.row
