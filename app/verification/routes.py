"""Verification routes: thin HTTP over app.verification.service.

These are the routes HR systems and counters call all day, so they skip FastAPI's per-request dependency
solving and response re-validation (app/json_body.py): each takes the bare Request, admits the caller with
plain calls (token, budget, scope: the same checks, in the same order, as the dependencies of other routes),
reads its body in one validation pass and answers with the model's own JSON.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import APIRouter, Request, Response

from app.json_body import documented_body, json_answer, read_body
from app.problems import problem_responses
from app.ratelimit import charge_budget
from app.routing import AuthFirstRoute
from app.security import Principal, authenticate_bearer, check_scope
from app.services import services_of
from app.tracing import request_id_of
from app.verification.card_token import CardTokenVerifier
from app.verification.schemas import (
    BatchAnswer,
    BatchIn,
    CardTokenAnswer,
    CardTokenIn,
    VerifyAnswer,
    VerifyIn,
)
from app.verification.service import CredentialVerifier


class VerificationServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def dispatcher(self) -> CredentialVerifier: ...

    @property
    def card_verifier(self) -> CardTokenVerifier: ...


def services(request: Request) -> VerificationServices:
    view: VerificationServices = services_of(request)
    return view


router = APIRouter(
    route_class=AuthFirstRoute, prefix="/v1/verify", tags=["verification"], responses=problem_responses(429)
)
# Served by app.hot_routes.HotRoutes, past the app's router: each endpoint here takes only the request.


async def admit(request: Request) -> Principal:
    """The caller's token, then one unit of its budgets on the verify routes, then the verify scope."""
    caller = await authenticate_bearer(request)
    await charge_budget(request, caller, "verify")
    return check_scope(caller, "verify")


def dispatcher_of(request: Request) -> CredentialVerifier:
    """Local look-ups for regions held here, the peer node's signed answer for the others."""
    dispatcher: CredentialVerifier = services(request).dispatcher
    return dispatcher


@router.post(
    "",
    response_model=VerifyAnswer,
    summary="Verify one credential",
    responses=problem_responses(503),
    openapi_extra=documented_body(VerifyIn),
)
async def verify(request: Request) -> Response:
    caller = await admit(request)
    payload = await read_body(request, VerifyIn)
    return json_answer(await dispatcher_of(request).verify(payload, caller, request_id_of(request)))


@router.post(
    "/batch",
    response_model=BatchAnswer,
    summary="Verify up to 1,000 credentials, answers in order",
    openapi_extra=documented_body(BatchIn),
)
async def verify_batch(request: Request) -> Response:
    caller = await admit(request)
    payload = await read_body(request, BatchIn)
    # admit counted one request; each further item costs one more, so a batch is no way around the
    # per-minute budget of single verifications.
    if len(payload.items) > 1:
        await charge_budget(request, caller, "verify", len(payload.items) - 1)
    results = await dispatcher_of(request).verify_batch(payload.items, caller, request_id_of(request))
    return json_answer(BatchAnswer(results=results))


@router.post(
    "/card-token",
    response_model=CardTokenAnswer,
    summary="Verify a talent card's QR token: signature, expiry, status list, recognition here",
    responses=problem_responses(503),
    openapi_extra=documented_body(CardTokenIn),
)
async def verify_card_token(request: Request) -> Response:
    caller = await admit(request)
    payload = await read_body(request, CardTokenIn)
    verifier: CardTokenVerifier = services(request).card_verifier
    return json_answer(await verifier.verify(payload.token, caller, request_id_of(request)))
