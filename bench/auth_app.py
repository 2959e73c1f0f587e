"""The huren app plus two bench-only routes doing the same registry look-up, one open and one behind the
registry:read scope: their difference is the per-request cost of access-token checking."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from app.audit.request_session import SessionDep
from app.main import create_app as create_huren_app
from app.registry import service
from app.registry.schemas import AnyCredentialOut, present_credential
from app.security import require_scope


async def lookup(kind: str, region: str, number: str, session: SessionDep) -> AnyCredentialOut:
    return present_credential(await service.get_credential(session, kind, region, number))


def create_app() -> FastAPI:
    app = create_huren_app()
    app.add_api_route("/bench/open/{kind}/{region}/{number}", lookup)
    app.add_api_route(
        "/bench/authed/{kind}/{region}/{number}",
        lookup,
        dependencies=[Depends(require_scope("registry:read"))],
    )
    return app
