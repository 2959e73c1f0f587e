"""Admin route for a card system's issuing window: the days it issues new cards.

When a region replaces its card (重庆英才服务卡 by 新重庆人才卡), an admin closes the old system's window
on the day it stopped issuing: the registry and the import then refuse new cards of it dated from that day
on, while the cards it issued keep verifying until their own valid_until. The seed never overwrites a loaded
table, so a date learned later is set here, not in the shipped JSON alone.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.audit.request_session import SessionDep
from app.audit.service import record_request_event
from app.domain.date_windows import check_window
from app.errors import NotFound
from app.models import CardSystem
from app.problems import problem_responses
from app.routing import AuthFirstRoute
from app.security import require_scope

router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/admin/card-systems",
    tags=["admin"],
    dependencies=[Depends(require_scope("admin"))],
    responses=problem_responses(404),
)
SystemCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{1,31}$")]


class IssuingWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issuing_from: date | None = Field(
        default=None, description="the first day it issues new cards; null = open"
    )
    issuing_until: date | None = Field(
        default=None,
        description="the first day it issues no more new cards: [issuing_from, issuing_until); null = open",
    )

    @model_validator(mode="after")
    def check_dates(self) -> IssuingWindow:
        check_window(self.issuing_from, self.issuing_until, "card_system.issuing_window")
        return self


class CardSystemWindow(IssuingWindow):
    code: str
    region: str
    name: str


@router.put(
    "/{code}/issuing-window",
    response_model=CardSystemWindow,
    summary="Set the days a card system issues new cards (its cards keep verifying until they expire)",
)
async def put_issuing_window(
    code: SystemCode, payload: IssuingWindow, request: Request, session: SessionDep
) -> CardSystemWindow:
    system = await session.get(CardSystem, code)
    if system is None:
        raise NotFound("no such card system")
    before: dict[str, Any] = {"from": system.issuing_from, "until": system.issuing_until}
    system.issuing_from, system.issuing_until = payload.issuing_from, payload.issuing_until
    await session.flush()
    details = {
        "before": {key: value.isoformat() if value else None for key, value in before.items()},
        "after": {
            "from": payload.issuing_from.isoformat() if payload.issuing_from else None,
            "until": payload.issuing_until.isoformat() if payload.issuing_until else None,
        },
    }
    record_request_event(
        request, session, "card_system.issuing_window_set", object_ref=f"card_system:{code}", details=details
    )
    return CardSystemWindow(
        code=system.code,
        region=system.region_code,
        name=system.name,
        issuing_from=system.issuing_from,
        issuing_until=system.issuing_until,
    )
