"""Registry routes: thin HTTP over app.registry.service."""

from __future__ import annotations

from typing import Annotated, Literal, Protocol

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response, status

from app.audit.request_session import SessionDep
from app.audit.service import record_request_event
from app.cards.publisher import StatusListPublisher
from app.cards.service import bump_revision
from app.errors import invalid_field
from app.models import Region
from app.privacy import PersonalDataVault
from app.problems import problem_responses
from app.query_types import IsoDate
from app.ratelimit import rate_limited
from app.registry import history, service
from app.registry.history import CredentialHistory
from app.registry.schemas import (
    AnyCredentialOut,
    CredentialCreate,
    CredentialPage,
    Kind,
    StatusChangeIn,
    present_credential,
)
from app.routing import AuthFirstRoute
from app.security import Admin, RegistryReader, RegistryWriter
from app.services import services_of
from app.settings import Settings


class RegistryServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def vault(self) -> PersonalDataVault: ...

    @property
    def status_lists(self) -> StatusListPublisher: ...


def services(request: Request) -> RegistryServices:
    view: RegistryServices = services_of(request)
    return view


router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/credentials",
    tags=["registry"],
    responses=problem_responses(404, 409, 429),
    dependencies=[Depends(rate_limited("registry"))],
)

KindPath = Kind
CredentialAnswer = AnyCredentialOut


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CredentialAnswer)
async def create_credential(
    payload: CredentialCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: RegistryWriter,
) -> CredentialAnswer:
    held = services(request).settings.regions
    if payload.region not in held and await session.get(Region, payload.region) is not None:
        # Another region's credentials (and the personal data with them) belong to that region's node.
        raise invalid_field("region", "region.not_held", "this node does not hold that region's registry")
    record = await service.create_credential(session, services(request).vault, payload)
    record_request_event(
        request,
        session,
        "credential.created",
        object_ref=f"credential:{record.credential.id}",
        details={"kind": payload.kind, "region": payload.region},
    )
    response.headers["Location"] = f"/v1/credentials/{payload.kind}/{payload.region}/{payload.number}"
    return present_credential(record)


@router.get("", response_model=CredentialPage)
async def list_credentials(
    session: SessionDep,
    principal: RegistryReader,
    kind: KindPath | None = None,
    region: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    status: Annotated[
        Literal["active", "suspended", "revoked", "cancelled", "expired", "transferred", "superseded"] | None,
        Query(),
    ] = None,
    number: Annotated[
        str | None, Query(max_length=64, description="the credential's number, exactly")
    ] = None,
    holder_name: Annotated[
        str | None,
        Query(max_length=50, description="the holder's name, exactly (no ID numbers in addresses)"),
    ] = None,
    issuer: Annotated[
        str | None, Query(max_length=200, description="the issuer's USCI, or part of its name")
    ] = None,
    issued_from: Annotated[IsoDate | None, Query(description="issued on or after")] = None,
    issued_to: Annotated[IsoDate | None, Query(description="issued on or before")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> CredentialPage:
    where = service.CredentialFilter(
        kind=kind,
        region=region,
        status=status,
        number=number.strip() if number else None,
        holder_name=holder_name.strip() if holder_name else None,
        issuer=issuer.strip() if issuer else None,
        issued_from=issued_from,
        issued_to=issued_to,
    )
    records, next_cursor = await service.list_credentials(session, where, cursor=cursor, limit=limit)
    return CredentialPage(items=[present_credential(r) for r in records], next_cursor=next_cursor)


@router.get("/{kind}/{region}/{number}", response_model=CredentialAnswer)
async def get_credential(
    kind: KindPath, region: str, number: str, session: SessionDep, principal: RegistryReader
) -> CredentialAnswer:
    return present_credential(await service.get_credential(session, kind, region, number))


@router.post("/{kind}/{region}/{number}/status", response_model=CredentialAnswer)
async def change_status(
    kind: KindPath,
    region: str,
    number: str,
    payload: StatusChangeIn,
    request: Request,
    session: SessionDep,
    principal: RegistryWriter,
    background: BackgroundTasks,
) -> CredentialAnswer:
    record = await service.change_status(
        session,
        kind=kind,
        region=region,
        number=number,
        target=payload.status,
        reason=payload.reason,
        # A person is named in the history they read back; a machine client by its id.
        actor=principal.person.username if principal.person is not None else principal.client_id,
    )
    record_request_event(
        request,
        session,
        "credential.status_changed",
        object_ref=f"credential:{record.credential.id}",
        details={"status": payload.status},
    )
    if kind == "card":
        # The region's status lists move with the change, in its transaction; this process's copies are
        # dropped now and again after the commit (a list rebuilt in between would still show the old bit).
        await bump_revision(session, region)
        publisher = services(request).status_lists
        publisher.invalidate(region)
        background.add_task(publisher.invalidate, region)
    return present_credential(record)


@router.get("/{kind}/{region}/{number}/history", response_model=CredentialHistory)
async def get_history(
    kind: KindPath, region: str, number: str, session: SessionDep, principal: RegistryReader
) -> CredentialHistory:
    """Its versions, its status changes (newest first) and the last 20 verifications the audit names it in
    (who asked: the client, and the person when one was signed in)."""
    return await history.read_history(session, await service.get_credential(session, kind, region, number))


@router.post(
    "/{kind}/{region}/{number}/holder/reveal",
    response_model=history.RevealedDocument,
    responses=problem_responses(403),
)
async def reveal_holder(
    kind: KindPath,
    region: str,
    number: str,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Admin,
) -> history.RevealedDocument:
    """The holder's document number in clear, for an admin, once: audited as `holder.revealed` (naming the
    person) and never cached."""
    record = await service.get_credential(session, kind, region, number)
    revealed = history.reveal_document(services(request).vault, record.holder)
    record_request_event(
        request,
        session,
        "holder.revealed",
        object_ref=f"credential:{record.credential.id}",
        details={"kind": kind},
    )
    response.headers["Cache-Control"] = "no-store"
    return revealed
