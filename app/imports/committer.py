"""The one interface behind which an import's clean rows reach the registry (`Committer`), and its counts.

The strategies: `StreamedUpsert` and `TwoPassUpsert` (PostgreSQL, app.imports.set_based), `BatchedUpsert`
(SQLite, app.imports.batched); app.imports.commit_choice picks one. A committer writes in the transaction of
the session it is given and never commits or rolls back: the job runner (app.imports.jobs) owns that
transaction, so the rows and the import's audit event are stored together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


class Committer(Protocol):
    """Writes clean rows (scratch-file lines, app.imports.staging) in one transaction of the caller's session.

    `streams`: True when rows are written while validation goes on (`write` is validation's sink), False when
    they are written after it, from the scratch file. `write` may return before the rows are in the
    database; `finish` returns once every row is, with the counts over the whole import.
    """

    @property
    def streams(self) -> bool: ...

    @property
    def block_rows(self) -> int:
        """About how many rows each `write` should bring when the scratch file is read back."""
        ...

    async def begin(self, session: AsyncSession) -> None: ...

    async def write(self, block: bytes, rows: int) -> None: ...

    async def finish(self) -> Counts: ...

    async def abandon(self, *, wait: bool) -> None:
        """Stop writing; the owner then rolls back. `wait`: let a write in flight end, so the connection
        stays usable for the rollback (False only when the task itself is being cancelled)."""
        ...
