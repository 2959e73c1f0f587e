"""Admin view of the audit chain."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.audit.request_session import SessionDep
from app.audit.service import verify_chain
from app.routing import AuthFirstRoute
from app.security import require_scope

router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/admin/audit",
    tags=["admin"],
    dependencies=[Depends(require_scope("admin"))],
)


class ChainAnswer(BaseModel):
    intact: bool
    checked: int
    broken_at: int | None
    reason: str | None


@router.get("/verify", response_model=ChainAnswer)
async def verify_audit_chain(session: SessionDep) -> ChainAnswer:
    report = await verify_chain(session)
    return ChainAnswer(
        intact=report.intact, checked=report.checked, broken_at=report.broken_at, reason=report.reason
    )
