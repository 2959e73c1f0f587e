"""Pass 1 of an import: every row of the stored file validated as the registry endpoints validate it.

The file is read in chunks of columns (app.imports.column_chunks); domain rules and code tables are checked
on whole columns where the columnar checks can vouch for a row, by the row path otherwise
(app.imports.validation.validate_chunk, which names every error as the models do); then duplicates within
the file (keyed digests in scratch part files, app.imports.seen, so nothing is held per row in memory) and
holders registered under another name. Clean rows are written, already in the staging table's shape
(app.imports.staging_frames), to the scratch file, or handed to a streamed committer as they come. This pass
writes nothing to the database: its reads run in short transactions of their own (on SQLite a long one would
hold the writer lock that the job's progress updates need).
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import IO, cast

import polars as pl
from sqlalchemy import LargeBinary, Select, String, any_, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.calendar import china_today
from app.imports.code_tables import CodeTables, load_code_tables
from app.imports.column_checks import clean_rows_of
from app.imports.column_chunks import iter_chunks
from app.imports.formats import ImportFormat
from app.imports.permit_numbers import find_number_conflicts
from app.imports.scratch import scratch_path
from app.imports.seen import InFileKeys, Repeat
from app.imports.staging import encrypt_documents
from app.imports.staging_frames import staging_block
from app.imports.validation import RowError, validate_chunk
from app.models import Holder, ImportJob
from app.privacy import PersonalDataVault

MAX_STORED_ERRORS = 100_000
ProgressHook = Callable[[str, int], Awaitable[None]]
# Where clean rows go while validation runs: a block of scratch-file lines (UTF-8) and its number of lines.
BlockSink = Callable[[bytes, int], Awaitable[None]]


@dataclass
class Tally:
    total: int = 0
    rejected_rows: set[int] = field(default_factory=set)


def registered_elsewhere(row: int) -> RowError:
    message = "a holder with this document number is registered under another name"
    return RowError(row, "holder_name", "holder.name_mismatch", message)


@cache
def select_registered(dialect: str) -> Select[str, str]:
    """The holders, among a batch's document hashes, already registered (with the name they have)."""
    query = select(Holder.id_hash, Holder.name)
    if dialect == "postgresql":
        # One array parameter rather than one per hash: a third of the time for a batch of 2,000 (7.7 µs a row
        # before, most of it binding and compiling the parameters). The column holds the hashes' bytes
        # (migration 0017), so the array does too: compared as they are, the index serves it.
        return query.where(Holder.id_hash == any_(bindparam("hashes", type_=ARRAY(LargeBinary))))
    # SQLite has no arrays: the batch goes as one JSON array, unpacked by json_each, for the same reason.
    batch: Select[str] = select(literal_column("value", String)).select_from(
        func.json_each(bindparam("hashes", type_=String))
    )
    return query.where(Holder.id_hash.in_(batch))


def registered_parameters(dialect: str, hashes: list[str]) -> dict[str, object]:
    """select_registered's parameters: the hashes as an array (PostgreSQL) or a JSON array (SQLite)."""
    if dialect == "postgresql":
        return {"hashes": [bytes.fromhex(id_hash) for id_hash in hashes]}
    return {"hashes": json.dumps(hashes)}


@dataclass
class ValidationPass:
    """Pass 1 over one job's stored file: the rows' tally and errors, and the scratch file of clean rows."""

    job: ImportJob
    path: Path
    sessionmaker: async_sessionmaker[AsyncSession]
    vault: PersonalDataVault
    batch_rows: int
    max_rows: int
    progress: ProgressHook
    held_regions: frozenset[str] | None = None
    tally: Tally = field(default_factory=Tally)
    errors: list[RowError] = field(default_factory=list)

    def scratch_path(self) -> Path:
        return scratch_path(self.path)

    def reject(self, found: Sequence[RowError]) -> None:
        for error in found:
            if error.row is not None:
                self.tally.rejected_rows.add(error.row)
            if len(self.errors) < MAX_STORED_ERRORS:
                self.errors.append(error)

    async def validate(self, sink: BlockSink | None = None, phase: str = "validate") -> None:
        """Every row checked; clean rows to the scratch file, or handed to `sink` (a streamed commit)."""
        async with self.sessionmaker() as session:
            tables = await load_code_tables(session, self.held_regions)
        # Dates are compared with the UTC day, ID birth dates with the local one: the earlier serves both.
        today = china_today()
        keys = InFileKeys(self.path.with_suffix(self.path.suffix + ".seen"))
        try:
            await self.check_rows(keys, tables, today, sink, phase)
            numbers, renamed = keys.find_repeats()
            permits = keys.find_permit_conflicts()
        finally:
            keys.close()
        message = "the same credential number appears in rows {first} and {row}"
        self.reject_repeats(numbers, "number", "number.duplicate_in_file", message)
        message = "the same holder document number has different names in rows {first} and {row}"
        self.reject_repeats(renamed, "holder_name", "holder.name_conflict_in_file", message)
        message = "rows {first} and {row} break one work permit number per person (number or holder differs)"
        self.reject_repeats(permits, "number", "permit.number_conflict_in_file", message)

    async def check_rows(
        self, keys: InFileKeys, tables: CodeTables, today: date, sink: BlockSink | None, phase: str
    ) -> None:
        file_format = cast(ImportFormat, self.job.file_format)
        with self.scratch_path().open("wb") as scratch:
            os.chmod(self.scratch_path(), 0o600)
            chunks = iter_chunks(
                self.path,
                file_format,
                self.job.kind,
                charset=self.job.charset,
                default_region=self.job.default_region,
                max_rows=self.max_rows,
            )
            for chunk in chunks:
                self.tally.total += chunk.count
                clean, found = validate_chunk(self.job.kind, chunk, tables, today)
                self.reject(found)
                await self.store_clean(clean, keys, scratch, sink)
                await self.progress(phase, self.tally.total)
        await self.progress(phase, self.tally.total)

    async def store_clean(
        self, clean: pl.DataFrame, keys: InFileKeys, scratch: IO[bytes], sink: BlockSink | None
    ) -> None:
        """The clean rows' in-file keys; their holders checked a batch at a time; the rows kept written."""
        if clean.height == 0:
            return
        digests = self.vault.document_digests(clean["id_type"].to_list(), clean["id_number"].to_list())
        hashes = [digest.hex() for digest in digests]
        # The keyed hash cut to 128 bits is the holder's in-file key: no ID number kept, and no second hash.
        holder_keys = [digest[:16] for digest in digests]
        rows = clean["row"].to_list()
        numbers = clean.select(pl.concat_str("region", pl.lit("\x1f"), "number"))
        keys.add_many(rows, numbers.to_series().to_list(), holder_keys, clean["holder_name"].to_list())
        if self.job.kind == "permit":
            for row, number, key in zip(rows, clean["number"].to_list(), holder_keys, strict=True):
                keys.add_permit(row, number, key)
        kept: list[int] = []
        for start in range(0, clean.height, self.batch_rows):
            part, part_hashes = clean.slice(start, self.batch_rows), hashes[start : start + self.batch_rows]
            kept += [start + index for index in await self.check_holders(part, part_hashes)]
        if not kept:
            return
        if len(kept) < clean.height:
            clean, hashes = clean[kept], [hashes[index] for index in kept]
        # Made once per chunk, not per batch: each staging_block has a cost of its own.
        ciphers = encrypt_documents(self.vault, clean["id_type"].to_list(), clean["id_number"].to_list())
        block = staging_block(clean, hashes, ciphers)
        if sink is None:
            scratch.write(block)
            return
        # A streamed commit still gets a batch at a time: its chunks are cut at batch boundaries, and a chunk
        # must not take in more rows than it would row by row (a repeated number within one fails its upsert).
        lines = block.split(b"\n")[:-1]  # each line ends with one; escaped fields hold none
        for start in range(0, len(lines), self.batch_rows):
            batch = lines[start : start + self.batch_rows]
            await sink(b"\n".join(batch) + b"\n", len(batch))

    def reject_repeats(self, repeats: Sequence[Repeat], column: str, code: str, template: str) -> None:
        """Both rows of every repeat, each with the message naming the two."""
        for repeat in repeats:
            message = template.format(first=repeat.first, row=repeat.row)
            self.reject(
                [RowError(repeat.row, column, code, message), RowError(repeat.first, column, code, message)]
            )

    async def check_holders(self, part: pl.DataFrame, hashes: list[str]) -> list[int]:
        """The positions in `part` of the rows kept: those whose holder is registered under another name, or
        whose permit number is another holder's, are rejected."""
        permits = list(zip(clean_rows_of(part), hashes, strict=True)) if self.job.kind == "permit" else []
        async with self.sessionmaker() as session:
            dialect = (await session.connection()).dialect.name
            batch = registered_parameters(dialect, sorted(set(hashes)))
            found = await session.execute(select_registered(dialect), batch)
            registered = {id_hash: name for id_hash, name in found}
            conflicts = await find_number_conflicts(session, permits)
        self.reject(conflicts)
        refused = {error.row for error in conflicts}
        kept: list[int] = []
        rows, names = part["row"].to_list(), part["holder_name"].to_list()
        for index, (row, id_hash, name) in enumerate(zip(rows, hashes, names, strict=True)):
            known = registered.get(id_hash)
            if known is not None and known != name:
                self.reject([registered_elsewhere(row)])
            elif row not in refused:
                kept.append(index)
        return kept
