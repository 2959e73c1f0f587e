"""`GET /v1/reference/{table}`: the code tables as data, for integrators (no token: they are public).

What the database holds is what is answered, so an admin's edit to a table shows here at once; the ID types
and the skill-certificate numbering formats are not tables of their own and come from the shipped data. Every
table lists its rows in key order (the numbering formats in the order numbers are tried).
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.request_session import SessionDep
from app.models import (
    Area,
    CardClass,
    CardService,
    CardSystem,
    CatalogueEdition,
    CatalogueEntry,
    PermitClass,
    Region,
    SkillLevel,
    TitleCode,
    TitleSeries,
)
from app.problems import problem_responses
from app.reference.number_formats import read_number_format_definitions
from app.reference.seed import read_data
from app.routing import AuthFirstRoute

TableName = Literal[
    "regions",
    "title-series",
    "title-codes",
    "skill-levels",
    "card-systems",
    "id-types",
    "permit-classes",
    "areas",
    "skill-number-formats",
    "catalogue-editions",
]
# Code tables change by migration or by an admin, rarely: a cache may keep an answer for a few minutes.
CACHE_CONTROL = "public, max-age=300"

router = APIRouter(route_class=AuthFirstRoute, prefix="/v1/reference", tags=["reference"])


class ReferenceTable(BaseModel):
    table: str
    items: list[dict[str, Any]] = Field(description="The table's rows, in key order")


@cache
def provenance(name: str) -> dict[str, dict[str, Any]]:
    """`confirmed` (and `note`) of each row of a shipped data file, by code: whether the fact was found in a
    source. The tables hold the facts; the reviewed seed files hold where they come from. A row an admin
    added, which the files do not know, answers `confirmed: null`."""
    return {
        str(row["code"]): {"confirmed": row.get("confirmed"), "note": row.get("note")}
        for row in read_data(name)
    }


@cache
def nested_provenance(system: str, part: str) -> dict[str, dict[str, Any]]:
    """The same for the classes or services of one card system in card_systems.json."""
    for row in read_data("card_systems.json"):
        if row["code"] == system:
            return {
                str(x["code"]): {"confirmed": x.get("confirmed"), "note": x.get("note")} for x in row[part]
            }
    return {}


UNKNOWN_PROVENANCE: dict[str, Any] = {"confirmed": None, "note": None}


async def read_regions(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(Region).order_by(Region.code))).all()
    return [{"code": r.code, "name": r.name, "province_code": r.province_code} for r in rows]


async def read_title_series(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(TitleSeries).order_by(TitleSeries.code))).all()
    known = provenance("title_series.json")
    return [{"code": r.code, "name": r.name, **known.get(r.code, UNKNOWN_PROVENANCE)} for r in rows]


async def read_title_codes(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(TitleCode).order_by(TitleCode.code))).all()
    known = provenance("title_codes.json")
    return [
        {
            "code": r.code,
            "name": r.name,
            "series_code": r.series_code,
            "level": r.level,
            **known.get(r.code, UNKNOWN_PROVENANCE),
        }
        for r in rows
    ]


async def read_skill_levels(session: AsyncSession) -> list[dict[str, Any]]:
    """Each level with its `rank` (学徒工 1 … 首席技师 8): the codes keep their old meaning, not an order."""
    rows = (await session.scalars(select(SkillLevel).order_by(SkillLevel.level))).all()
    return [
        {
            "level": r.level,
            "name": r.name,
            "rank": r.rank,
            "scheme": r.scheme,
            "confirmed": r.confirmed,
            "note": r.note,
        }
        for r in rows
    ]


async def read_card_systems(session: AsyncSession) -> list[dict[str, Any]]:
    """Each card system with its classes and the services its holders get, nested."""
    classes: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in (await session.scalars(select(CardClass).order_by(CardClass.system_code, CardClass.code))).all():
        known = nested_provenance(c.system_code, "classes").get(c.code, UNKNOWN_PROVENANCE)
        classes[c.system_code].append({"code": c.code, "name": c.name, **known})
    services: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    ordered = select(CardService).order_by(CardService.system_code, CardService.code)
    for s in (await session.scalars(ordered)).all():
        known = nested_provenance(s.system_code, "services").get(s.code, UNKNOWN_PROVENANCE)
        services[s.system_code].append({"code": s.code, "name": s.name, "tier": s.tier, **known})
    systems = (await session.scalars(select(CardSystem).order_by(CardSystem.code))).all()
    known = provenance("card_systems.json")
    return [
        {
            "code": s.code,
            "region": s.region_code,
            "name": s.name,
            "validity_years": s.validity_years,
            # The days it issues new cards, [issuing_from, issuing_until), null = open; cards issued before
            # the window closed keep verifying until their own valid_until.
            "issuing_from": s.issuing_from,
            "issuing_until": s.issuing_until,
            "classes": classes[s.code],
            "services": services[s.code],
            **known.get(s.code, UNKNOWN_PROVENANCE),
        }
        for s in systems
    ]


async def read_permit_classes(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(PermitClass).order_by(PermitClass.code))).all()
    known = provenance("permit_classes.json")
    return [
        {"code": r.code, "name": r.name, "min_points": r.min_points, **known.get(r.code, UNKNOWN_PROVENANCE)}
        for r in rows
    ]


async def read_areas(session: AsyncSession) -> list[dict[str, Any]]:
    """The areas a recognition rule may be scoped to, each with the regions' divisions it spans."""
    rows = (await session.scalars(select(Area).order_by(Area.code))).all()
    known = provenance("areas.json")
    return [
        {"code": r.code, "name": r.name, "parts": r.parts, **known.get(r.code, UNKNOWN_PROVENANCE)}
        for r in rows
    ]


async def read_catalogue_editions(session: AsyncSession) -> list[dict[str, Any]]:
    """The editions with the counts they were published with and how many entries are imported."""
    imported = dict(
        (
            await session.execute(
                select(CatalogueEntry.edition_code, func.count()).group_by(CatalogueEntry.edition_code)
            )
        ).all()
    )
    editions = (await session.scalars(select(CatalogueEdition).order_by(CatalogueEdition.code))).all()
    return [
        {
            "code": e.code,
            "name": e.name,
            "published_on": e.published_on.isoformat() if e.published_on else None,
            "current": e.current,
            "superseded_by": e.superseded_by,
            "clusters_published": e.clusters_published,
            "posts_published": e.posts_published,
            "severe_published": e.severe_published,
            "moderate_published": e.moderate_published,
            "mild_published": e.mild_published,
            "entries_imported": imported.get(e.code, 0),
            "confirmed": e.confirmed,
            "note": e.note,
        }
        for e in editions
    ]


def read_id_types() -> list[dict[str, Any]]:
    # `confirmed: false` marks a code not yet confirmed in a source (app/reference/data/README.md).
    return [
        {key: row[key] for key in ("code", "name", "holder_type_code", "default", "confirmed")}
        for row in read_data("id_types.json")
    ]


def read_skill_number_formats() -> list[dict[str, Any]]:
    # The definitions the validators are built from (app.reference.number_formats), in the order numbers are
    # tried; positions are 1-based. `confirmed: false` with its `note` says what is assumed.
    return read_number_format_definitions()


@router.get(
    "/{table}",
    response_model=ReferenceTable,
    summary="A code table as data (no token)",
    responses=problem_responses(422),
)
async def get_reference_table(
    table: Annotated[TableName, Path(description="Which code table")],
    session: SessionDep,
    response: Response,
) -> ReferenceTable:
    readers = {
        "regions": read_regions,
        "title-series": read_title_series,
        "title-codes": read_title_codes,
        "skill-levels": read_skill_levels,
        "card-systems": read_card_systems,
        "permit-classes": read_permit_classes,
        "areas": read_areas,
        "catalogue-editions": read_catalogue_editions,
    }
    files = {"id-types": read_id_types, "skill-number-formats": read_skill_number_formats}
    items = files[table]() if table in files else await readers[table](session)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return ReferenceTable(table=table, items=items)
