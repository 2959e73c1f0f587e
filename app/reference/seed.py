"""Loads the shipped code tables into the database, adding what is missing and never overwriting.

Admins may edit the tables after the first load, so a later `huren db upgrade` must not undo their changes:
rows are matched by key and only absent ones are inserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Base
from app.models import (
    Area,
    CardClass,
    CardService,
    CardSystem,
    CatalogueEdition,
    PermitClass,
    RecognitionRule,
    Region,
    SkillLevel,
    TitleCode,
    TitleSeries,
)

DATA_DIR = Path(__file__).parent / "data"


def read_data(name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))
    return rows


async def add_missing(
    session: AsyncSession, model: type[Base], rows: Iterable[Base], key: tuple[str, ...]
) -> int:
    columns = [getattr(model, name) for name in key]
    existing = {tuple(row) for row in (await session.execute(select(*columns))).all()}
    added = 0
    for row in rows:
        if tuple(getattr(row, name) for name in key) not in existing:
            session.add(row)
            added += 1
    await session.flush()
    return added


def build_card_rows(
    systems: list[dict[str, Any]],
) -> tuple[list[CardSystem], list[CardClass], list[CardService]]:
    system_rows, class_rows, service_rows = [], [], []
    for system in systems:
        code = system["code"]
        system_rows.append(
            CardSystem(
                code=code,
                region_code=system["region"],
                name=system["name"],
                validity_years=system.get("validity_years"),
                issuing_from=optional_date(system.get("issuing_from")),
                issuing_until=optional_date(system.get("issuing_until")),
            )
        )
        class_rows += [CardClass(system_code=code, code=c["code"], name=c["name"]) for c in system["classes"]]
        service_rows += [
            CardService(system_code=code, code=s["code"], name=s["name"], tier=s.get("tier"))
            for s in system.get("services", [])
        ]
    return system_rows, class_rows, service_rows


def optional_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def build_rule(rule: dict[str, Any]) -> RecognitionRule:
    until = rule.get("effective_until")
    return RecognitionRule(
        code=rule["code"],
        kind=rule["kind"],
        source_region=rule["source_region"],
        target_region=rule["target_region"],
        target_area=rule.get("target_area"),
        mode=rule["mode"],
        criteria=rule["criteria"],
        equivalent=rule["equivalent"],
        basis=rule["basis"],
        effective_from=date.fromisoformat(rule["effective_from"]),
        effective_until=date.fromisoformat(until) if until else None,
        priority=rule.get("priority", 100),
        note=rule.get("note"),
    )


def build_edition(edition: dict[str, Any]) -> CatalogueEdition:
    published = edition.get("published_on")
    counts = ("clusters", "posts", "severe", "moderate", "mild")
    return CatalogueEdition(
        code=edition["code"],
        name=edition["name"],
        published_on=date.fromisoformat(published) if published else None,
        current=edition.get("current", False),
        superseded_by=edition.get("superseded_by"),
        confirmed=edition.get("confirmed", False),
        note=edition.get("note"),
        **{f"{c}_published": edition.get(f"{c}_published") for c in counts},
    )


async def seed_reference_data(session: AsyncSession) -> dict[str, int]:
    """Insert the shipped reference rows that are not in the database yet; returns counts per table."""
    systems, classes, services = build_card_rows(read_data("card_systems.json"))
    plan: list[tuple[type[Base], list[Base], tuple[str, ...]]] = [
        (
            Region,
            [
                Region(code=r["code"], name=r["name"], province_code=r["province_code"])
                for r in read_data("regions.json")
            ],
            ("code",),
        ),
        (
            TitleSeries,
            [TitleSeries(code=s["code"], name=s["name"]) for s in read_data("title_series.json")],
            ("code",),
        ),
        (
            TitleCode,
            [
                TitleCode(code=t["code"], name=t["name"], series_code=t["series"], level=t["level"])
                for t in read_data("title_codes.json")
            ],
            ("code",),
        ),
        (
            SkillLevel,
            [
                SkillLevel(
                    level=s["level"],
                    name=s["name"],
                    rank=s["rank"],
                    scheme=s["scheme"],
                    confirmed=s["confirmed"],
                    note=s.get("note"),
                )
                for s in read_data("skill_levels.json")
            ],
            ("level",),
        ),
        (CardSystem, list(systems), ("code",)),
        (CardClass, list(classes), ("system_code", "code")),
        (CardService, list(services), ("system_code", "code")),
        (
            PermitClass,
            [
                PermitClass(code=c["code"], name=c["name"], min_points=c.get("min_points"))
                for c in read_data("permit_classes.json")
            ],
            ("code",),
        ),
        (
            Area,
            [Area(code=a["code"], name=a["name"], parts=a["parts"]) for a in read_data("areas.json")],
            ("code",),
        ),
        (RecognitionRule, [build_rule(r) for r in read_data("recognition_rules.json")], ("code",)),
        (CatalogueEdition, [build_edition(e) for e in read_data("catalogue_editions.json")], ("code",)),
    ]
    counts = {}
    for model, rows, key in plan:
        counts[model.__tablename__] = await add_missing(session, model, rows, key)
    return counts
