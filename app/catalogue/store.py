"""Writing an import's checked catalogue entries: new keys inserted, changed ones updated (version bumped),
the same ones left alone and counted unchanged. Flushes only: the import job commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalogue.entries import Entry
from app.models import CatalogueEntry


@dataclass
class StoreCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


async def store_entries(session: AsyncSession, entries: Sequence[Entry], job_id: str | None) -> StoreCounts:
    """Upsert by (edition, cluster, post, region). An edition is a few thousand rows: its entries are read
    once and compared here, which also treats a null region (both regions) as one key, as SQL would not."""
    counts = StoreCounts()
    editions = sorted({e.edition for e in entries})
    if not editions:
        return counts
    found = await session.execute(
        select(
            CatalogueEntry.id,
            CatalogueEntry.edition_code,
            CatalogueEntry.cluster,
            CatalogueEntry.post,
            CatalogueEntry.region_code,
            CatalogueEntry.title_series_code,
            CatalogueEntry.occupation_code,
            CatalogueEntry.urgency,
        ).where(CatalogueEntry.edition_code.in_(editions))
    )
    stored = {(r.edition_code, r.cluster, r.post, r.region_code): r for r in found}
    new_rows = []
    for entry in entries:
        row = stored.get(entry.key)
        if row is None:
            new_rows.append(
                {
                    "edition_code": entry.edition,
                    "cluster": entry.cluster,
                    "post": entry.post,
                    "title_series_code": entry.title_series,
                    "occupation_code": entry.occupation_code,
                    "urgency": entry.urgency,
                    "region_code": entry.region,
                    "import_job_id": job_id,
                    "version": 1,
                }
            )
        elif (row.title_series_code, row.occupation_code, row.urgency) == entry.values:
            counts.unchanged += 1
        else:
            await session.execute(
                update(CatalogueEntry)
                .where(CatalogueEntry.id == row.id)
                .values(
                    title_series_code=entry.title_series,
                    occupation_code=entry.occupation_code,
                    urgency=entry.urgency,
                    import_job_id=job_id,
                    version=CatalogueEntry.version + 1,
                )
            )
            counts.updated += 1
    if new_rows:
        await session.execute(insert(CatalogueEntry), new_rows)
        counts.inserted = len(new_rows)
    await session.flush()
    return counts
