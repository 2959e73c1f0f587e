"""Inbound federation routes: a configured peer asks this node about credentials of regions it holds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.errors import NotFound, Unauthorized
from app.federation.peers_in import PeerAuthenticator
from app.problems import problem_responses
from app.ratelimit import RateLimiter
from app.routing import AuthFirstRoute
from app.security import Principal
from app.services import services_of
from app.settings import Settings
from app.tracing import request_id_of
from app.verification.schemas import BatchIn, VerifyAnswer, VerifyIn
from app.verification.service import Verifier


class FederationServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def peer_authenticator(self) -> PeerAuthenticator | None: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def rate_limiter(self) -> RateLimiter: ...

    @property
    def verifier(self) -> Verifier: ...


def services(request: Request) -> FederationServices:
    view: FederationServices = services_of(request)
    return view


router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/federation",
    tags=["federation"],
    responses=problem_responses(401, 404, 429),
)
peer_bearer = HTTPBearer(auto_error=False, description="A peer node's signed assertion (typ huren-peer+jwt)")


async def authenticate_peer(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(peer_bearer)]
) -> Principal:
    authenticator: PeerAuthenticator | None = services(request).peer_authenticator
    if authenticator is None:
        raise Unauthorized("this node has no peers")
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a peer assertion is required")
    principal = await authenticator.principal_for(credentials.credentials)
    request.state.principal = principal
    return principal


PeerCaller = Annotated[Principal, Depends(authenticate_peer)]


async def admit(request: Request, caller: Principal, items: list[VerifyIn]) -> None:
    """Only regions held here; and each of the peer's clients within the per-client budget here too, so a
    compromised peer cannot enumerate faster than a client could. (No per-address budget: all of a peer's
    traffic comes from its node's address.)"""
    view = services(request)
    regions = set(view.settings.regions)
    if any(item.region not in regions for item in items):
        raise NotFound("this node does not hold the region asked about")
    limiter: RateLimiter = view.rate_limiter
    budget = view.settings.rate_limit_per_minute
    await limiter.enforce(f"peer-client:{caller.region}:{caller.client_id}:verify", budget, len(items))


async def without_unknown_areas(verifier: Verifier, items: Sequence[VerifyIn]) -> list[VerifyIn]:
    """The asking node checked each item's area against its own table and applies its own rules to the
    answer (app.federation.forward), so an area this node does not know (tables that differ, a rolling
    upgrade) is dropped here rather than failing the whole batch and tripping the asking node's breaker."""
    areas = (await verifier.rules.rule_set()).areas
    return [
        item
        if item.target_area is None or item.target_area in areas
        else item.model_copy(update={"target_area": None})
        for item in items
    ]


@router.post("/verify", response_model=VerifyAnswer, summary="Verify for a peer node (the /v1/verify body)")
async def verify_for_peer(payload: VerifyIn, request: Request, caller: PeerCaller) -> VerifyAnswer:
    await admit(request, caller, [payload])
    verifier: Verifier = services(request).verifier
    [item] = await without_unknown_areas(verifier, [payload])
    return await verifier.verify(item, caller, request_id_of(request))


@router.post("/verify/batch", summary="Verify items for a peer node, answers in order")
async def verify_batch_for_peer(
    payload: BatchIn, request: Request, caller: PeerCaller
) -> dict[str, list[VerifyAnswer]]:
    await admit(request, caller, payload.items)
    verifier: Verifier = services(request).verifier
    items = await without_unknown_areas(verifier, payload.items)
    return {"results": await verifier.verify_batch(items, caller, request_id_of(request))}
