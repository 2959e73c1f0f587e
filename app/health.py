"""Liveness, readiness and metrics: unauthenticated, for load balancers and Prometheus."""

from __future__ import annotations

from typing import Protocol

import asyncpg
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db import Transactions
from app.errors import AppError
from app.keys import KeyStore
from app.routing import AuthFirstRoute
from app.services import HurenApp, services_of


class HealthServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def transactions(self) -> Transactions: ...

    @property
    def keys(self) -> KeyStore: ...


def services(request: Request) -> HealthServices:
    view: HealthServices = services_of(request)
    return view


router = APIRouter(route_class=AuthFirstRoute, tags=["operations"])


class Health(BaseModel):
    status: str


class NotReady(AppError):
    status, slug, title = 503, "not-ready", "Not ready"


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"description": "database unreachable"}})
async def readyz(request: Request) -> Health:
    """Ready when the database answers and a signing key is loaded."""
    try:
        async with services(request).transactions() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        # Retry-After as for every answer given while the database is unavailable (app.problems).
        app: HurenApp = request.app
        retry_after = str(app.settings.db_retry_after_seconds)
        raise NotReady("the database is not reachable", headers={"Retry-After": retry_after}) from None
    if services(request).keys.current_kid is None:
        raise NotReady("no signing key is loaded")
    return Health(status="ready")
