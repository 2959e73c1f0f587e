"""The catalogue as verification reads it: an index of the current editions' entries kept in this process
(as the recognition rules are, app.verification.rules), so naming the shortage posts a credential fills costs
a dictionary look-up per answer, never a query.

Matching: a title by its title code's series, a skill certificate by its occupation code (a code with a
work-type suffix, 6-31-01-03-01, also matches the entry of its occupation, 6-31-01-03). An entry counts for
the caller's region when it names that region, or no region (listed for both).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from app.catalogue.schemas import Shortage
from app.db import Transactions
from app.models import URGENCIES, CatalogueEdition, CatalogueEntry

# Scoped look-ups: (what is asked for, region) -> the posts listed for that region or for both, most urgent
# first; (what is asked for, None) -> those listed for both only. Merged at load, so an answer costs one get.
Posts = Mapping[tuple[str, str | None], tuple[Shortage, ...]]
NONE: tuple[Shortage, ...] = ()
RANK = {name: position for position, name in enumerate(URGENCIES)}


@dataclass(frozen=True)
class CatalogueSnapshot:
    by_series: Posts = field(default_factory=dict)
    by_occupation: Posts = field(default_factory=dict)

    def match(
        self, kind: str, title_series: str | None, occupation_code: str | None, region: str
    ) -> list[Shortage]:
        if kind == "title" and title_series:
            return self.scoped(self.by_series, title_series, region)
        if kind == "skill" and occupation_code:
            found = self.scoped(self.by_occupation, occupation_code, region)
            occupation = occupation_code[:10]  # X-XX-XX-XX without a work-type suffix
            if len(occupation_code) > 10:
                found += self.scoped(self.by_occupation, occupation, region)
            return found
        return []

    @staticmethod
    def scoped(posts: Posts, wanted: str, region: str) -> list[Shortage]:
        return list(posts.get((wanted, region)) or posts.get((wanted, None), NONE))


def merge_scopes(listed: Mapping[tuple[str, str | None], list[Shortage]]) -> Posts:
    """Each region's posts with those listed for both regions, most urgent first (a stable sort: within an
    urgency the region's own posts, then the shared ones, each in edition and post order)."""
    merged: dict[tuple[str, str | None], tuple[Shortage, ...]] = {}
    for (wanted, region), posts in listed.items():
        shared = listed.get((wanted, None), []) if region is not None else []
        merged[(wanted, region)] = tuple(sorted((*posts, *shared), key=lambda s: RANK[s.urgency]))
    return merged


async def load_snapshot(reads: Transactions) -> CatalogueSnapshot:
    query = (
        select(
            CatalogueEntry.edition_code,
            CatalogueEntry.post,
            CatalogueEntry.urgency,
            CatalogueEntry.title_series_code,
            CatalogueEntry.occupation_code,
            CatalogueEntry.region_code,
        )
        .join(CatalogueEdition, CatalogueEdition.code == CatalogueEntry.edition_code)
        .where(CatalogueEdition.current.is_(True))
        .order_by(CatalogueEntry.edition_code.desc(), CatalogueEntry.post, CatalogueEntry.id)
    )
    async with reads() as conn:
        rows = list((await conn.execute(query)).all())
    rows.sort(key=lambda r: RANK.get(r.urgency, len(RANK)))  # stable: edition and post order kept within
    series: defaultdict[tuple[str, str | None], list[Shortage]] = defaultdict(list)
    occupations: defaultdict[tuple[str, str | None], list[Shortage]] = defaultdict(list)
    for row in rows:
        shortage = Shortage(edition=row.edition_code, post=row.post, urgency=row.urgency)
        if row.title_series_code:
            series[(row.title_series_code, row.region_code)].append(shortage)
        if row.occupation_code:
            occupations[(row.occupation_code, row.region_code)].append(shortage)
    return CatalogueSnapshot(by_series=merge_scopes(series), by_occupation=merge_scopes(occupations))


class CatalogueIndex:
    """This process's copy, re-read every `refresh_seconds`, or at the next answer after `invalidate` (an
    import of the catalogue committed here)."""

    def __init__(self, reads: Transactions, refresh_seconds: float) -> None:
        self.reads, self.refresh_seconds = reads, refresh_seconds
        self.current: CatalogueSnapshot | None = None
        self.loaded_at = 0.0

    async def snapshot(self) -> CatalogueSnapshot:
        if self.current is None or time.monotonic() - self.loaded_at >= self.refresh_seconds:
            self.current = await load_snapshot(self.reads)
            self.loaded_at = time.monotonic()
        return self.current

    def invalidate(self) -> None:
        self.current = None
