"""The audit log for admins and auditors: the events, filtered and paged, and a check of the chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.audit.request_session import SessionDep
from app.audit.service import verify_chain
from app.models import AuditEvent
from app.problems import problem_responses
from app.query_types import IsoTime
from app.routing import AuthFirstRoute
from app.security import require_scope

router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/admin/audit",
    tags=["admin"],
    dependencies=[Depends(require_scope("audit:read", "admin"))],
)


class ChainAnswer(BaseModel):
    intact: bool
    checked: int
    broken_at: int | None
    reason: str | None


class AuditEventOut(BaseModel):
    seq: int
    occurred_at: datetime
    action: str
    outcome: str
    actor: str | None = Field(description="The person (staff user name); null for a machine client")
    actor_method: str | None = Field(description="How the person signed in: password or oidc")
    actor_roles: list[str] = Field(description="The person's roles when they acted")
    client_id: str | None
    object_ref: str | None
    request_id: str | None
    details: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None = Field(description="Pass as cursor= for the next (older) page; null at the end")


@router.get(
    "", response_model=AuditPage, summary="Audit events, newest first", responses=problem_responses(422)
)
async def list_audit_events(
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=64, description="A staff user name")] = None,
    client_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="An action, or a prefix ending in '.'")
    ] = None,
    object_ref: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[IsoTime | None, Query(description="From this time (ISO 8601 with offset)")] = None,
    until: Annotated[IsoTime | None, Query(description="Before this time (ISO 8601 with offset)")] = None,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit + 1)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor.strip().lower())
    if client_id is not None:
        query = query.where(AuditEvent.client_id == client_id)
    if action is not None:
        # "session." lists every session event; anything else is one action.
        query = query.where(
            AuditEvent.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditEvent.action == action
        )
    if object_ref is not None:
        query = query.where(AuditEvent.object_ref == object_ref)
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEvent.occurred_at < until)
    if cursor is not None:
        query = query.where(AuditEvent.seq < int(cursor))
    rows = (await session.scalars(query)).all()
    page = rows[:limit]
    return AuditPage(
        items=[
            AuditEventOut(
                seq=row.seq,
                occurred_at=row.occurred_at,
                action=row.action,
                outcome=row.outcome,
                actor=row.actor,
                actor_method=row.actor_method,
                actor_roles=row.actor_roles.split(",") if row.actor_roles else [],
                client_id=row.client_id,
                object_ref=row.object_ref,
                request_id=row.request_id,
                details=row.details,
            )
            for row in page
        ],
        next_cursor=str(page[-1].seq) if len(rows) > limit else None,
    )


@router.get("/verify", response_model=ChainAnswer)
async def verify_audit_chain(session: SessionDep) -> ChainAnswer:
    report = await verify_chain(session)
    return ChainAnswer(
        intact=report.intact, checked=report.checked, broken_at=report.broken_at, reason=report.reason
    )
