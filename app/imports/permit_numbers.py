"""One work permit number per person for life, in an import: set-based, a batch of rows at a time.

The registry refuses a permit whose number belongs to another holder, or whose holder already has another
number (app.registry.permits). An import checks the same against what is stored, one query per batch for each
direction, and the in-file half (two rows of the file that disagree) in its scratch index (app.imports.seen).
The same number for the same holder in both regions is allowed: that is an A-class holder who moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.imports.clean_rows import CleanRow
from app.imports.validation import RowError
from app.models import Credential, Holder
from app.registry.permits import BINDING_STATUS, HOLDER_HAS_ANOTHER_NUMBER, NUMBER_OF_ANOTHER_HOLDER


@cache
def select_by_numbers() -> Select[str, str]:
    """The holders (by document hash) of stored permits with these numbers."""
    return (
        select(Credential.number, Holder.id_hash)
        .join(Holder, Holder.id == Credential.holder_id)
        .where(
            Credential.kind == "permit",
            BINDING_STATUS,
            Credential.number.in_(bindparam("numbers", expanding=True)),
        )
    )


@cache
def select_by_holders() -> Select[str, str]:
    """The numbers of stored permits of these holders."""
    return (
        select(Holder.id_hash, Credential.number)
        .join(Credential, Credential.holder_id == Holder.id)
        .where(
            Credential.kind == "permit",
            BINDING_STATUS,
            Holder.id_hash.in_(bindparam("hashes", expanding=True)),
        )
    )


async def find_number_conflicts(
    session: AsyncSession, rows: Sequence[tuple[CleanRow, str]]
) -> list[RowError]:
    """The rows (clean row, holder's document hash) whose permit number breaks one-number-per-person
    against the stored permits."""
    if not rows:
        return []
    numbers = sorted({clean.number for clean, _ in rows})
    hashes = sorted({id_hash for _, id_hash in rows})
    holders_of = pairs(await session.execute(select_by_numbers(), {"numbers": numbers}))
    numbers_of = pairs(await session.execute(select_by_holders(), {"hashes": hashes}))
    found = []
    for clean, id_hash in rows:
        if holders_of.get(clean.number, {id_hash}) - {id_hash}:
            message = "this work permit number is registered for another holder"
            found.append(RowError(clean.row, "number", NUMBER_OF_ANOTHER_HOLDER, message))
        elif numbers_of.get(id_hash, {clean.number}) - {clean.number}:
            message = "this holder already has a work permit under another number"
            found.append(RowError(clean.row, "number", HOLDER_HAS_ANOTHER_NUMBER, message))
    return found


def pairs(result: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for key, value in result:
        grouped.setdefault(key, set()).add(value)
    return grouped
