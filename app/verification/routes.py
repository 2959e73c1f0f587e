"""Verification routes: thin HTTP over app.verification.service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.errors import problem_responses
from app.federation.forward import Dispatcher
from app.ratelimit import charge_budget, rate_limited
from app.security import Principal, require_scope
from app.verification.card_token import CardTokenVerifier
from app.verification.schemas import (
    BatchAnswer,
    BatchIn,
    CardTokenAnswer,
    CardTokenIn,
    VerifyAnswer,
    VerifyIn,
)

router = APIRouter(
    prefix="/v1/verify",
    tags=["verification"],
    responses=problem_responses(429),
    dependencies=[Depends(rate_limited("verify"))],
)
Caller = Annotated[Principal, Depends(require_scope("verify"))]


def dispatcher_of(request: Request) -> Dispatcher:
    """Local look-ups for regions held here, the peer node's signed answer for the others."""
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


@router.post(
    "", response_model=VerifyAnswer, summary="Verify one credential", responses=problem_responses(503)
)
async def verify(payload: VerifyIn, request: Request, caller: Caller) -> VerifyAnswer:
    return await dispatcher_of(request).verify(payload, caller, getattr(request.state, "request_id", None))


@router.post("/batch", response_model=BatchAnswer, summary="Verify up to 1,000 credentials, answers in order")
async def verify_batch(payload: BatchIn, request: Request, caller: Caller) -> BatchAnswer:
    # The route dependency counted one request; each further item costs one more, so a batch is no way
    # around the per-minute budget of single verifications.
    if len(payload.items) > 1:
        await charge_budget(request, caller, "verify", len(payload.items) - 1)
    request_id = getattr(request.state, "request_id", None)
    return BatchAnswer(results=await dispatcher_of(request).verify_batch(payload.items, caller, request_id))


@router.post(
    "/card-token",
    response_model=CardTokenAnswer,
    summary="Verify a talent card's QR token: signature, expiry, status list, recognition here",
    responses=problem_responses(503),
)
async def verify_card_token(payload: CardTokenIn, request: Request, caller: Caller) -> CardTokenAnswer:
    verifier: CardTokenVerifier = request.app.state.card_verifier
    return await verifier.verify(payload.token, caller, getattr(request.state, "request_id", None))
