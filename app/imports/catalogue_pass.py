"""An import of the shortage catalogue (kind=catalogue): the same job, file readers, error report and audit
as a credential import, with rows of its own. A catalogue is a few thousand rows, so its clean rows are held
in memory and written in one go; the credential pipeline (validation_pass, the committers) is not involved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.catalogue.entries import Entry, check_entry, load_catalogue_tables
from app.catalogue.store import store_entries
from app.imports.committer import Counts
from app.imports.parsing import ImportFormat, iter_rows
from app.imports.scratch import scratch_path
from app.imports.validation import RowError
from app.imports.validation_pass import ProgressHook, Tally
from app.models import ImportJob

# An edition has about 1,500 posts: a file far beyond that is not a catalogue.
MAX_CATALOGUE_ROWS = 100_000
PROGRESS_ROWS = 1000


@dataclass
class CataloguePass:
    """Validation of one catalogue file, then (mode=commit) the write of its clean rows."""

    job: ImportJob
    path: Path
    sessionmaker: async_sessionmaker[AsyncSession]
    max_rows: int
    progress: ProgressHook
    tally: Tally = field(default_factory=Tally)
    errors: list[RowError] = field(default_factory=list)
    clean: list[Entry] = field(default_factory=list)

    def scratch_path(self) -> Path:
        return scratch_path(self.path)  # none is written; the job runner removes it all the same

    def reject(self, row: int, column: str | None, code: str, message: str) -> None:
        self.tally.rejected_rows.add(row)
        self.errors.append(RowError(row, column, code, message))

    async def validate(self) -> None:
        async with self.sessionmaker() as session:
            tables = await load_catalogue_tables(session)
        first_of: dict[tuple[str, str, str, str | None], int] = {}
        with self.path.open("rb") as source:
            rows = iter_rows(
                source,
                cast(ImportFormat, self.job.file_format),
                "catalogue",
                charset=self.job.charset,
                default_region=self.job.default_region,
                max_rows=min(self.max_rows, MAX_CATALOGUE_ROWS),
            )
            for raw in rows:
                self.tally.total += 1
                for problem in raw.problems:
                    self.reject(raw.row, problem.column, problem.code, problem.message)
                entry, problems = check_entry(raw.row, raw.values, tables)
                for p in problems:
                    self.reject(raw.row, p.column, p.code, p.message)
                if entry is not None and not raw.problems:
                    first = first_of.setdefault(entry.key, raw.row)
                    if first != raw.row:
                        message = f"the same post (edition, cluster, region) is in rows {first} and {raw.row}"
                        self.reject(raw.row, "post", "catalogue.duplicate_in_file", message)
                        self.reject(first, "post", "catalogue.duplicate_in_file", message)
                    else:
                        self.clean.append(entry)
                if self.tally.total % PROGRESS_ROWS == 0:
                    await self.progress("validate", self.tally.total)
        await self.progress("validate", self.tally.total)

    async def store(self, session: AsyncSession) -> Counts:
        """The clean rows not rejected, written in the caller's transaction (the job commits it)."""
        wanted = [e for e in self.clean if e.row not in self.tally.rejected_rows]
        stored = await store_entries(session, wanted, self.job.id)
        await self.progress("commit", len(wanted))
        return Counts(inserted=stored.inserted, updated=stored.updated, unchanged=stored.unchanged)
