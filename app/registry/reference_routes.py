"""`GET /v1/reference/{table}`: the code tables as data, for integrators (no token: they are public).

What the database holds is what is answered, so an admin's edit to a table shows here at once; the ID types
are not a table of their own and come from the shipped data. Every table lists its rows in key order.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.request_session import SessionDep
from app.models import (
    CardClass,
    CardService,
    CardSystem,
    CatalogueEdition,
    CatalogueEntry,
    Region,
    SkillLevel,
    TitleCode,
    TitleSeries,
)
from app.problems import problem_responses
from app.reference.seed import read_data
from app.routing import AuthFirstRoute

TableName = Literal[
    "regions", "title-series", "title-codes", "skill-levels", "card-systems", "id-types", "catalogue-editions"
]
# Code tables change by migration or by an admin, rarely: a cache may keep an answer for a few minutes.
CACHE_CONTROL = "public, max-age=300"

router = APIRouter(route_class=AuthFirstRoute, prefix="/v1/reference", tags=["reference"])


class ReferenceTable(BaseModel):
    table: str
    items: list[dict[str, Any]] = Field(description="The table's rows, in key order")


async def read_regions(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(Region).order_by(Region.code))).all()
    return [{"code": r.code, "name": r.name, "province_code": r.province_code} for r in rows]


async def read_title_series(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(TitleSeries).order_by(TitleSeries.code))).all()
    return [{"code": r.code, "name": r.name} for r in rows]


async def read_title_codes(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(TitleCode).order_by(TitleCode.code))).all()
    return [{"code": r.code, "name": r.name, "series_code": r.series_code, "level": r.level} for r in rows]


async def read_skill_levels(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(SkillLevel).order_by(SkillLevel.level))).all()
    return [{"level": r.level, "name": r.name} for r in rows]


async def read_card_systems(session: AsyncSession) -> list[dict[str, Any]]:
    """Each card system with its classes and the services its holders get, nested."""
    classes: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in (await session.scalars(select(CardClass).order_by(CardClass.system_code, CardClass.code))).all():
        classes[c.system_code].append({"code": c.code, "name": c.name})
    services: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    ordered = select(CardService).order_by(CardService.system_code, CardService.code)
    for s in (await session.scalars(ordered)).all():
        services[s.system_code].append({"code": s.code, "name": s.name, "tier": s.tier})
    systems = (await session.scalars(select(CardSystem).order_by(CardSystem.code))).all()
    return [
        {
            "code": s.code,
            "region": s.region_code,
            "name": s.name,
            "validity_years": s.validity_years,
            "classes": classes[s.code],
            "services": services[s.code],
        }
        for s in systems
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
        "catalogue-editions": read_catalogue_editions,
    }
    items = read_id_types() if table == "id-types" else await readers[table](session)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return ReferenceTable(table=table, items=items)
