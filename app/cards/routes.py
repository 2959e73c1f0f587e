"""Card routes: tokens and QR codes for talent cards, and the public status lists."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Annotated, Literal, Protocol

import segno
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel

from app.audit.request_session import SessionDep
from app.audit.service import record_request_event
from app.cards.publisher import StatusListPublisher
from app.cards.service import issue_card_token
from app.errors import NotFound
from app.keys import KeyStore
from app.problems import problem_responses
from app.ratelimit import rate_limited
from app.routing import AuthFirstRoute
from app.security import require_scope
from app.services import services_of
from app.settings import Settings


class CardServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def keys(self) -> KeyStore: ...

    @property
    def status_lists(self) -> StatusListPublisher: ...


def services(request: Request) -> CardServices:
    view: CardServices = services_of(request)
    return view


router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/cards",
    tags=["cards"],
    responses=problem_responses(404, 409, 429),
    dependencies=[Depends(require_scope("cards:issue")), Depends(rate_limited("cards"))],
)
lists_router = APIRouter(
    route_class=AuthFirstRoute, prefix="/v1/status-lists", tags=["cards"], responses=problem_responses(404)
)
RegionPath = Annotated[str, Path(pattern=r"^[A-Z]{2}$")]
NumberPath = Annotated[str, Path(min_length=1, max_length=64)]
VC_JWT = "application/vc+jwt"


class CardToken(BaseModel):
    token: str
    expires_at: datetime


async def issue(request: Request, session: SessionDep, region: str, number: str) -> CardToken:
    settings = services(request).settings
    issued = await issue_card_token(
        session,
        services(request).keys,
        region=region,
        number=number,
        issuer=settings.public_url,
        max_ttl=timedelta(days=settings.card_token_max_days),
    )
    record_request_event(
        request, session, "card.token_issued", object_ref=f"credential:{issued.credential_id}"
    )
    return CardToken(token=issued.token, expires_at=issued.expires_at)


@router.post("/{region}/{number}/token", response_model=CardToken, summary="A signed token for the card's QR")
async def create_token(
    region: RegionPath, number: NumberPath, request: Request, session: SessionDep
) -> CardToken:
    return await issue(request, session, region, number)


@router.get(
    "/{region}/{number}/qr.png",
    summary="The card's QR code (PNG) holding a fresh token",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def qr_code(region: RegionPath, number: NumberPath, request: Request, session: SessionDep) -> Response:
    card = await issue(request, session, region, number)
    image = io.BytesIO()
    # Error correction M: a printed card survives some wear; scale 6 gives modules a USB scanner reads well.
    segno.make_qr(card.token, error="m").save(image, kind="png", scale=6, border=4)
    return Response(image.getvalue(), media_type="image/png", headers={"Cache-Control": "no-store"})


@lists_router.get(
    "/{region}/{purpose}",
    summary="A region's signed Bitstring Status List (W3C), as a VC-JOSE credential",
    response_class=Response,
    responses={200: {"content": {VC_JWT: {}}}, 304: {"description": "Not modified"}},
)
async def status_list(
    region: RegionPath, purpose: Literal["revocation", "suspension"], request: Request
) -> Response:
    if region not in services(request).settings.regions:
        raise NotFound("this node publishes no status list for that region")
    publisher: StatusListPublisher = services(request).status_lists
    published = await publisher.current(region, purpose)
    ttl = int(publisher.ttl.total_seconds())
    headers = {"Cache-Control": f"public, max-age={ttl}", "ETag": published.etag}
    if request.headers.get("if-none-match") == published.etag:
        return Response(status_code=304, headers=headers)
    return Response(published.token, media_type=VC_JWT, headers=headers)
