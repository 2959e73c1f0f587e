"""The one typed container of what a worker holds at hand, and how a request reaches it.

`app.main.build_services` makes a `Services` once per process at start-up (tests make theirs on a connection
they roll back) and attaches it to the app, a `HurenApp`; a route takes `ServicesDep`, and code that is not a
FastAPI dependency (the hot verification routes) calls `services_of(request)`. Nothing is kept in `app.state`.

The classes are named for type checking only: at run time this module imports none of them, so any layer
(security, rate limits, the routes of every feature) can reach the container without an import cycle.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from app.cards.publisher import StatusListPublisher
    from app.clients.service import SecretCache
    from app.db import Transactions
    from app.federation.client import PeerClient
    from app.federation.forward import Dispatcher
    from app.federation.mirror import PeerMirror
    from app.federation.peers_in import PeerAuthenticator
    from app.keys import KeyStore
    from app.metrics import RequestMetrics
    from app.privacy import PersonalDataVault
    from app.ratelimit import RateLimiter
    from app.security import Authenticator
    from app.settings import Settings
    from app.verification.card_token import CardTokenVerifier
    from app.verification.rules import RuleBook
    from app.verification.service import Verifier


@dataclass(eq=False)
class Services:
    settings: Settings
    vault: PersonalDataVault
    metrics: RequestMetrics
    engine: AsyncEngine
    # Verification's reads: a pool without transactions of their own (PostgreSQL), or None where reads share
    # the write path (tests, on their rolled-back connection).
    read_engine: AsyncEngine | None
    transactions: Transactions
    sessionmaker: async_sessionmaker[AsyncSession]
    keys: KeyStore
    authenticator: Authenticator
    rate_limiter: RateLimiter
    rule_book: RuleBook
    verifier: Verifier
    status_lists: StatusListPublisher
    dispatcher: Dispatcher
    card_verifier: CardTokenVerifier
    secret_cache: SecretCache
    peer_client: PeerClient | None = None
    peer_authenticator: PeerAuthenticator | None = None
    mirror: PeerMirror | None = None
    # Import jobs running in this process: kept referenced until they end (asyncio holds tasks weakly).
    import_tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def own_connections(self) -> bool:
        """Whether work may open connections of its own (an import's COPY beside its transaction): not when
        every session is bound to one connection, as a test's rolled-back one is."""
        return not isinstance(self.sessionmaker.kw.get("bind"), AsyncConnection)

    async def close(self, *, dispose_engine: bool) -> None:
        """Stop what start-up started, in reverse."""
        if self.mirror is not None:
            await self.mirror.stop()
        if self.peer_client is not None:
            await self.peer_client.close()
        await self.rate_limiter.counter.close()
        if self.read_engine is not None and self.read_engine.dialect.name != "sqlite":
            await self.read_engine.dispose()  # a pool of its own (SQLite's shares the engine's)
        if dispose_engine:
            await self.engine.dispose()


class HurenApp(FastAPI):
    """The FastAPI app with its parts typed: what exists from creation (settings, the personal-data vault,
    the request metrics its middleware fills) and the services attached at start-up."""

    def __init__(
        self, *, settings: Settings, vault: PersonalDataVault, metrics: RequestMetrics, **options: Any
    ) -> None:
        super().__init__(**options)
        self.settings, self.vault, self.metrics = settings, vault, metrics
        self.attached: Services | None = None

    @property
    def services(self) -> Services:
        if self.attached is None:
            raise RuntimeError("the app's services are not started (no lifespan has run)")
        return self.attached


def services_of(request: Request) -> Services:
    """The worker's services, from any request (a FastAPI dependency and a plain call alike)."""
    app: HurenApp = request.app
    return app.services


ServicesDep = Annotated[Services, Depends(services_of)]
