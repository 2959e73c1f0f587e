"""The code tables an import row is checked against (regions, title codes, levels, card systems), loaded once
per import, and the check of a model-valid row against them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.date_windows import in_window
from app.imports.clean_rows import CleanRow
from app.models import CardClass, CardService, CardSystem, PermitClass, Region, SkillLevel, TitleCode
from app.registry.service import not_issuing_message


@dataclass(frozen=True)
class CodeTables:
    """The code tables a row is checked against, loaded once per import."""

    regions: frozenset[str]
    title_codes: frozenset[str]
    skill_levels: frozenset[int]
    card_system_regions: Mapping[str, str]
    card_classes: frozenset[tuple[str, str]]
    card_services: Mapping[str, frozenset[str]]
    # Only the systems whose issuing window is not open on both sides: for the others no date is refused, and
    # a row of theirs costs one failed look-up.
    card_issuing_windows: Mapping[str, tuple[date | None, date | None]]
    # The regions this node holds (None: every region in the table): another region's people belong to the
    # node of that region (federation), so its rows are refused here.
    held: frozenset[str] | None = None
    permit_classes: frozenset[str] = frozenset()


async def load_code_tables(session: AsyncSession, held: frozenset[str] | None = None) -> CodeTables:
    services: dict[str, set[str]] = {}
    for system, code in await session.execute(select(CardService.system_code, CardService.code)):
        services.setdefault(system, set()).add(code)
    return CodeTables(
        regions=frozenset((await session.scalars(select(Region.code))).all()),
        title_codes=frozenset((await session.scalars(select(TitleCode.code))).all()),
        skill_levels=frozenset((await session.scalars(select(SkillLevel.level))).all()),
        card_system_regions={
            code: region
            for code, region in await session.execute(select(CardSystem.code, CardSystem.region_code))
        },
        card_classes=frozenset(
            (system, code)
            for system, code in await session.execute(select(CardClass.system_code, CardClass.code))
        ),
        card_services={system: frozenset(codes) for system, codes in services.items()},
        card_issuing_windows={
            code: (start, until)
            for code, start, until in await session.execute(
                select(CardSystem.code, CardSystem.issuing_from, CardSystem.issuing_until)
            )
            if start is not None or until is not None
        },
        held=held,
        permit_classes=frozenset((await session.scalars(select(PermitClass.code))).all()),
    )


def check_codes(row: CleanRow, tables: CodeTables) -> list[tuple[str, str, str]]:
    """(column, code, message) for each value of a model-valid row that is missing from the code tables."""
    found = []
    if row.region not in tables.regions:
        found.append(("region", "region.unknown", "no such region"))
    elif tables.held is not None and row.region not in tables.held:
        found.append(("region", "region.not_held", "this node does not hold that region's registry"))
    if row.kind == "title" and row.title_code not in tables.title_codes:
        found.append(("title_code", "title_code.unknown", "not in the title code table"))
    if row.kind == "skill" and row.skill_level not in tables.skill_levels:
        found.append(("level", "skill_level.unknown", "not in the skill level table"))
    if row.kind == "card":
        assert row.card_system is not None
        assert row.entitlements is not None
        system_region = tables.card_system_regions.get(row.card_system)
        if system_region is None:
            found.append(("card_system", "card_system.unknown", "no such card system"))
        elif system_region != row.region:
            found.append(("card_system", "card_system.region", "this card system belongs to another region"))
        elif not issuing_on(tables, row.card_system, row.issued_on):
            start, until = tables.card_issuing_windows[row.card_system]
            found.append(("card_system", "card_system.not_issuing", not_issuing_message(start, until)))
        elif (row.card_system, row.card_class) not in tables.card_classes:
            found.append(("card_class", "card_class.unknown", "not a class of this card system"))
        known = tables.card_services.get(row.card_system, frozenset())
        if any(code not in known for code in row.entitlements):
            found.append(("entitlements", "entitlement.unknown", "not a service of this card system"))
    if row.kind == "permit" and row.permit_class not in tables.permit_classes:
        found.append(("permit_class", "permit_class.unknown", "not in the permit class table"))
    return found


def issuing_on(tables: CodeTables, system: str, issued_on: date) -> bool:
    """Whether the card system issues new cards on that day (the registry's rule, app.registry.service)."""
    window = tables.card_issuing_windows.get(system)
    return window is None or in_window(issued_on, *window)
