"""SQLite commit of an import: the scratch file's rows in batches, through the driver's executemany.

SQLAlchemy Core spent most of this pass turning ~30 values per row into SQLite's storage forms; the scratch
file already holds them (dates as YYYY-MM-DD, JSON as text), so rows go to the driver as they are and only
the timestamps are made once per batch, by the column type itself. What is stored is what the ORM and Core
store (tests compare the two paths). `BatchedUpsert` is the SQLite committer (app.imports.committer): it
writes in the caller's transaction and never commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.imports.committer import Counts
from app.imports.staging import COMPARED_FIELDS, NULL, STAGING_COLUMNS, unescape
from app.models import Credential, Organisation

# SQLite's page cache, in KiB when negative. The commit inserts into unique indexes in random key order (ID
# hashes), so a cache that holds their hot pages saves most page reads (default: 2 MiB; restored after).
COMMIT_CACHE_SIZE: Final = -65536
# Keys per IN list: far below SQLite's limit on bound parameters whatever HUREN_IMPORT_BATCH_ROWS says.
MAX_KEYS: Final = 5000
_INDEX: Final = {name: index for index, name in enumerate(STAGING_COLUMNS)}
_HOLDER_FIELDS: Final = ("id_type", "id_hash", "id_cipher", "id_masked", "holder_name", "birth_date", "sex")
_STAGED_FIELDS: Final = COMPARED_FIELDS[2:]  # the compared fields bar holder_id and issuer_id
_STAGED_POSITIONS: Final = tuple(_INDEX[name] for name in _STAGED_FIELDS)
_ENTITLEMENTS: Final = _STAGED_FIELDS.index("entitlements")
_SKILL_LEVEL: Final = _STAGED_FIELDS.index("skill_level")

# Every name in these statements comes from STAGING_COLUMNS and COMPARED_FIELDS: no input reaches them.
INSERT_HOLDER: Final = (
    "INSERT INTO holders (id_type, id_hash, id_cipher, id_masked, name, birth_date, sex, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_CREDENTIAL: Final = (
    "INSERT INTO credentials (kind, region_code, number, status, version, created_at, updated_at, "  # noqa: S608
    f"import_job_id, holder_id, issuer_id, {', '.join(_STAGED_FIELDS)}) "
    f"VALUES (?, ?, ?, 'active', 1, ?, ?, ?, ?, ?, {', '.join('?' for _ in _STAGED_FIELDS)})"
)
UPDATE_CREDENTIAL: Final = (
    "UPDATE credentials SET holder_id = ?, issuer_id = ?, "  # noqa: S608
    f"{', '.join(f'{f} = ?' for f in _STAGED_FIELDS)}, "
    "version = version + 1, updated_at = ?, import_job_id = ? WHERE id = ?"
)
SELECT_EXISTING: Final = (
    f"SELECT id, number, holder_id, issuer_id, {', '.join(_STAGED_FIELDS)} FROM credentials "  # noqa: S608
    "WHERE kind = ? AND region_code = ? AND number IN ({marks})"
)


class BatchedUpsert:
    """SQLite after validation: the scratch file's rows in batches of `batch_rows` through the driver's
    executemany, compared with the stored rows in Python."""

    streams = False

    def __init__(self, batch_rows: int, job_id: str | None = None) -> None:
        self.job_id = job_id  # stored on every credential the import inserts or changes
        # Read back a batch at a time: a larger block only held more line strings at once (+25 MB peak RSS
        # at 500,000 rows with ten batches a block).
        self.batch_rows = self.block_rows = batch_rows
        self.session: AsyncSession | None = None
        self.connection: AsyncConnection | None = None
        self.previous_cache_size: int | None = None
        self.issuers: dict[str, int] = {}
        self.counts = Counts()
        self.pending: list[str] = []

    async def begin(self, session: AsyncSession) -> None:
        self.session = session
        self.connection = await session.connection()
        cache_size = await self.connection.exec_driver_sql("PRAGMA cache_size")
        self.previous_cache_size = int(cache_size.scalar_one())
        await self.connection.exec_driver_sql(f"PRAGMA cache_size = {COMMIT_CACHE_SIZE}")

    async def write(self, block: bytes, rows: int) -> None:
        # Split on line feeds only: str.splitlines would also cut at characters a field may hold (U+2028, …).
        lines = block.decode().split("\n")
        lines.pop()  # the empty string after the block's last line feed
        self.pending += lines
        while len(self.pending) >= self.batch_rows:
            await self.upsert_pending(self.batch_rows)

    async def finish(self) -> Counts:
        while self.pending:
            await self.upsert_pending(self.batch_rows)
        await self.restore_cache_size()
        return self.counts

    async def abandon(self, *, wait: bool) -> None:
        await self.restore_cache_size()

    async def upsert_pending(self, size: int) -> None:
        assert self.session is not None
        batch, self.pending = self.pending[:size], self.pending[size:]
        await upsert_batch(self.session, batch, self.issuers, self.counts, self.job_id)

    async def restore_cache_size(self) -> None:
        # The connection goes back to the pool with the page cache it had.
        if self.connection is not None and self.previous_cache_size is not None:
            await self.connection.exec_driver_sql(f"PRAGMA cache_size = {self.previous_cache_size}")
            self.previous_cache_size = None


def split_line(line: str) -> list[str | None]:
    """A scratch line as stored text values (NULL as None); dates stay YYYY-MM-DD, as SQLite keeps them."""
    fields: list[str | None] = []
    for field in line.rstrip("\n").split("\t"):
        if field == NULL:
            fields.append(None)
        else:
            fields.append(unescape(field) if "\\" in field else field)
    return fields


def staged_values(fields: Sequence[str | None]) -> list[Any]:
    """The compared fields of a staged row as SQLite stores them: skill level a number, JSON as text (the JSON
    type writes an absent list as 'null')."""
    values: list[Any] = [fields[position] for position in _STAGED_POSITIONS]
    level = values[_SKILL_LEVEL]
    values[_SKILL_LEVEL] = int(level) if level is not None else None
    if values[_ENTITLEMENTS] is None:
        values[_ENTITLEMENTS] = json.dumps(None)
    return values


def same_entitlements(stored: str | None, staged: str) -> bool:
    # Compared as the ORM sees them: SQL NULL and JSON null are both "no list".
    before: object = json.loads(stored) if stored is not None else None
    after: object = json.loads(staged)
    return before == after


async def upsert_batch(
    session: AsyncSession,
    lines: Sequence[str],
    issuers: dict[str, int],
    counts: Counts,
    job_id: str | None = None,
) -> None:
    """Register the batch's issuers and holders, insert new credentials, update changed ones (new version)."""
    connection = await session.connection()
    rows = [split_line(line) for line in lines]
    now = stored_timestamp(connection)
    await register_issuers(session, rows, issuers)
    holder_ids = await register_holders(connection, rows, now)
    existing = await find_existing(connection, rows)
    fresh, changed = [], []
    for fields in rows:
        values = staged_values(fields)
        holder_id = holder_ids[fields[_INDEX["id_hash"]]]
        issuer_id = issuers[str(fields[_INDEX["issuer_usci"]])]
        kind, region, number = (fields[_INDEX[name]] for name in ("kind", "region_code", "number"))
        current = existing.get((kind, region, number))
        if current is None:
            fresh.append((kind, region, number, now, now, job_id, holder_id, issuer_id, *values))
        elif is_unchanged(current, holder_id, issuer_id, values):
            counts.unchanged += 1
        else:
            changed.append((holder_id, issuer_id, *values, now, job_id, current[0]))
    if changed:
        await connection.exec_driver_sql(UPDATE_CREDENTIAL, changed)
        counts.updated += len(changed)
    if fresh:
        await connection.exec_driver_sql(INSERT_CREDENTIAL, fresh)
        counts.inserted += len(fresh)


def is_unchanged(current: Sequence[Any], holder_id: int, issuer_id: int, values: Sequence[Any]) -> bool:
    """`current` is (id, number, holder_id, issuer_id, *compared fields) as stored."""
    if (current[2], current[3]) != (holder_id, issuer_id):
        return False
    stored = current[4:]
    return all(
        same_entitlements(stored[i], values[i]) if i == _ENTITLEMENTS else stored[i] == values[i]
        for i in range(len(values))
    )


def stored_timestamp(connection: AsyncConnection) -> Any:
    """Now, in the form the timestamp columns store it (made by their own type)."""
    dialect = connection.dialect
    process = Credential.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    now = datetime.now(UTC)
    return process(now) if process is not None else now


async def register_issuers(
    session: AsyncSession, rows: Sequence[Sequence[str | None]], issuers: dict[str, int]
) -> None:
    """Issuers are few: known ones are cached for the whole commit, a new one is added through the ORM."""
    wanted: dict[str, Sequence[str | None]] = {}
    for fields in rows:
        usci = fields[_INDEX["issuer_usci"]]
        assert usci is not None
        if usci not in issuers:
            wanted.setdefault(usci, fields)
    if not wanted:
        return
    found = await session.execute(
        select(Organisation.usci, Organisation.id).where(Organisation.usci.in_(wanted))
    )
    issuers.update(dict(found.all()))
    for usci, fields in wanted.items():
        if usci not in issuers:
            # First sighting registers the issuer; its level defaults to city (API.md).
            org = Organisation(
                usci=usci,
                name=fields[_INDEX["issuer_name"]],
                region_code=fields[_INDEX["region_code"]],
                level=fields[_INDEX["issuer_level"]] or "city",
            )
            session.add(org)
            await session.flush()
            issuers[usci] = org.id


async def register_holders(
    connection: AsyncConnection, rows: Sequence[Sequence[str | None]], now: Any
) -> dict[str | None, int]:
    """Ids of the batch's holders, registering those seen for the first time."""
    hashes = list({fields[_INDEX["id_hash"]] for fields in rows})
    query = "SELECT id_hash, id FROM holders WHERE id_hash IN ({marks})"
    ids = await select_holder_ids(connection, query, hashes)
    fresh: dict[str | None, tuple[Any, ...]] = {}
    for fields in rows:
        id_hash = fields[_INDEX["id_hash"]]
        if id_hash not in ids and id_hash not in fresh:
            fresh[id_hash] = (*(fields[_INDEX[name]] for name in _HOLDER_FIELDS), now)
    if fresh:
        await connection.exec_driver_sql(INSERT_HOLDER, list(fresh.values()))
        query = "SELECT id_hash, id FROM holders WHERE id_hash IN ({marks})"
        ids.update(await select_holder_ids(connection, query, list(fresh)))
    return ids


async def select_holder_ids(
    connection: AsyncConnection, query: str, keys: Sequence[str | None]
) -> dict[str | None, int]:
    pairs: dict[str | None, int] = {}
    for start in range(0, len(keys), MAX_KEYS):
        part = keys[start : start + MAX_KEYS]
        found = await connection.exec_driver_sql(
            query.format(marks=", ".join("?" for _ in part)), tuple(part)
        )
        pairs.update((row.id_hash, row.id) for row in found)
    return pairs


async def find_existing(
    connection: AsyncConnection, rows: Iterable[Sequence[str | None]]
) -> dict[tuple[str | None, ...], tuple[Any, ...]]:
    """The batch's stored credentials, one query per (kind, region) so that the unique index serves it."""
    groups: dict[tuple[str | None, str | None], list[str | None]] = {}
    for fields in rows:
        key = (fields[_INDEX["kind"]], fields[_INDEX["region_code"]])
        groups.setdefault(key, []).append(fields[_INDEX["number"]])
    found: dict[tuple[str | None, ...], tuple[Any, ...]] = {}
    for (kind, region), numbers in groups.items():
        for start in range(0, len(numbers), MAX_KEYS):
            part = numbers[start : start + MAX_KEYS]
            query = SELECT_EXISTING.format(marks=", ".join("?" for _ in part))
            result = await connection.exec_driver_sql(query, (kind, region, *part))
            found.update({(kind, region, row.number): tuple(row) for row in result})
    return found
