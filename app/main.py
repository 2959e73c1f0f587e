"""The application factory: settings in, a FastAPI app out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app import health
from app.db import create_engine, create_sessionmaker
from app.errors import install_error_handlers, problem_responses, register_problem_schema
from app.limits import BodySizeLimit
from app.metrics import MetricsMiddleware, RequestMetrics
from app.privacy import PersonalDataVault
from app.registry import routes as registry_routes
from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None, *, engine: AsyncEngine | None = None) -> FastAPI:
    """Build the app. Tests pass their own settings and, to share one migrated database, their engine."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        app.state.engine = engine or create_engine(settings)
        app.state.sessionmaker = create_sessionmaker(app.state.engine)
        try:
            yield
        finally:
            if owned:
                await app.state.engine.dispose()

    app = FastAPI(
        title="huren 互认",
        version="1.0.0",
        summary="Sichuan–Chongqing credential mutual recognition: registries, verification, talent cards.",
        lifespan=lifespan,
        responses=problem_responses(401, 403, 413, 422),
    )
    register_problem_schema(app)
    app.state.settings = settings
    app.state.vault = PersonalDataVault.from_settings(settings)
    metrics = RequestMetrics()
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(registry_routes.router)
    app.add_route("/metrics", metrics.render, include_in_schema=False)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
