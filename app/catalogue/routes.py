"""`GET /v1/catalogue` (no token): the catalogue's entries, filtered and paged. The editions are a code table:
`GET /v1/reference/catalogue-editions` (app.registry.reference_routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.request_session import SessionDep
from app.catalogue.entries import URGENCY_ZH
from app.catalogue.schemas import CatalogueEntryOut, CataloguePage, Urgency
from app.cursors import decode_after_id, encode_cursor
from app.errors import invalid_field
from app.models import CatalogueEdition, CatalogueEntry, Region
from app.problems import problem_responses
from app.routing import AuthFirstRoute

# Editions change when an admin imports one: a cache may keep a page for a minute.
CACHE_CONTROL = "public, max-age=60"

router = APIRouter(route_class=AuthFirstRoute, prefix="/v1/catalogue", tags=["reference"])


def present_entry(entry: CatalogueEntry) -> CatalogueEntryOut:
    return CatalogueEntryOut(
        id=entry.id,
        edition=entry.edition_code,
        cluster=entry.cluster,
        post=entry.post,
        title_series=entry.title_series_code,
        occupation_code=entry.occupation_code,
        urgency=entry.urgency,
        urgency_zh=URGENCY_ZH[entry.urgency],
        region=entry.region_code,
    )


async def check_known(session: AsyncSession, edition: str | None, region: str | None) -> None:
    """A filter naming no edition or region is the caller's mistake (422), not an empty catalogue."""
    if edition is not None and await session.get(CatalogueEdition, edition) is None:
        raise invalid_field("edition", "catalogue.edition_unknown", "no such catalogue edition", "query")
    if region is not None and await session.get(Region, region) is None:
        raise invalid_field("region", "region.unknown", "no such region", "query")


@router.get(
    "",
    response_model=CataloguePage,
    summary="The shortage catalogue's entries (no token)",
    responses=problem_responses(422),
)
async def list_catalogue(
    session: SessionDep,
    response: Response,
    # Shapes that keep NUL and other control characters out of the query (PostgreSQL text cannot hold NUL).
    edition: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9._-]{1,16}$", description="an edition code, e.g. 2023")
    ] = None,
    region: Annotated[
        str | None,
        Query(pattern=r"^[A-Z]{2}$", description="posts listed for this region, and those listed for both"),
    ] = None,
    urgency: Annotated[Urgency | None, Query(description="severe 重度, moderate 中度, mild 轻度")] = None,
    cluster: Annotated[
        str | None,
        Query(max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$", description="an industry cluster, exactly"),
    ] = None,
    title_series: Annotated[str | None, Query(pattern=r"^[0-9]{2}$")] = None,
    occupation_code: Annotated[
        str | None, Query(pattern=r"^[0-9]-[0-9]{2}-[0-9]{2}-[0-9]{2}(-[0-9]{2})?$")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> CataloguePage:
    await check_known(session, edition, region)
    query = select(CatalogueEntry).order_by(CatalogueEntry.id).limit(limit + 1)
    if cursor is not None:
        query = query.where(CatalogueEntry.id > decode_after_id(cursor))
    if edition is not None:
        query = query.where(CatalogueEntry.edition_code == edition)
    if region is not None:
        query = query.where(or_(CatalogueEntry.region_code == region, CatalogueEntry.region_code.is_(None)))
    if urgency is not None:
        query = query.where(CatalogueEntry.urgency == urgency)
    if cluster is not None:
        query = query.where(CatalogueEntry.cluster == cluster.strip())
    if title_series is not None:
        query = query.where(CatalogueEntry.title_series_code == title_series)
    if occupation_code is not None:
        query = query.where(CatalogueEntry.occupation_code == occupation_code)
    found = list((await session.scalars(query)).all())
    more = len(found) > limit
    page = found[:limit]
    response.headers["Cache-Control"] = CACHE_CONTROL
    return CataloguePage(
        items=[present_entry(e) for e in page],
        next_cursor=encode_cursor({"after": page[-1].id}) if more else None,
    )
