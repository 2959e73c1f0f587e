"""`PUT /v1/admin/catalogue-editions/{code}` (admin): which editions are current, and which superseded which.

Verification answers name the posts of the current editions only, so making a newly imported edition current
(and marking the old one superseded) is how an admin switches the catalogue over. Everything else about an
edition is reference data (app/reference/data/catalogue_editions.json).
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from app.audit.request_session import SessionDep
from app.audit.service import record_request_event
from app.catalogue.index import CatalogueIndex
from app.errors import NotFound, invalid_field
from app.models import CatalogueEdition
from app.problems import problem_responses
from app.routing import AuthFirstRoute
from app.security import require_scope
from app.services import services_of


class CatalogueServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def catalogue(self) -> CatalogueIndex: ...


def services(request: Request) -> CatalogueServices:
    view: CatalogueServices = services_of(request)
    return view


router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/admin/catalogue-editions",
    tags=["admin"],
    dependencies=[Depends(require_scope("admin"))],
    responses=problem_responses(404),
)
EditionCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$")]


class EditionState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: bool = Field(description="whether verification answers name this edition's posts")
    superseded_by: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9._-]{1,16}$", description="the edition that replaced it"
    )


class EditionStateOut(EditionState):
    code: str


@router.put("/{code}", response_model=EditionStateOut, summary="Make a catalogue edition current, or not")
async def put_edition_state(
    code: EditionCode,
    payload: EditionState,
    request: Request,
    session: SessionDep,
    background: BackgroundTasks,
) -> EditionStateOut:
    edition = await session.get(CatalogueEdition, code)
    if edition is None:
        raise NotFound("no such catalogue edition")
    if payload.superseded_by is not None and (
        payload.superseded_by == code or await session.get(CatalogueEdition, payload.superseded_by) is None
    ):
        raise invalid_field("superseded_by", "catalogue.edition_unknown", "no such other catalogue edition")
    edition.current, edition.superseded_by = payload.current, payload.superseded_by
    await session.flush()
    record_request_event(
        request,
        session,
        "catalogue_edition.changed",
        object_ref=f"catalogue-edition:{code}",
        details={"current": payload.current, "superseded_by": payload.superseded_by},
    )
    # As for the rules: this process at once (and again after the commit), the others within their refresh.
    index = services(request).catalogue
    index.invalidate()
    background.add_task(index.invalidate)
    return EditionStateOut(code=code, current=edition.current, superseded_by=edition.superseded_by)
