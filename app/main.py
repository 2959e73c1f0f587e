"""The application factory: settings in, a FastAPI app (a HurenApp) out; its services built at start-up."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app import health
from app.audit import routes as audit_routes
from app.audit.request_session import SessionServices
from app.audit.writer import AuditWriter
from app.body_limit import BodySizeLimit
from app.cards import routes as card_routes
from app.cards.publisher import StatusListPublisher
from app.cards.routes import CardServices
from app.catalogue import admin_routes as catalogue_admin
from app.catalogue import routes as catalogue_routes
from app.catalogue.admin_routes import CatalogueServices
from app.catalogue.index import CatalogueIndex
from app.clients import routes as client_routes
from app.clients.routes import ClientServices
from app.clients.service import SecretCache
from app.db import Transactions, create_engine, create_read_engine, create_sessionmaker
from app.federation import routes as federation_routes
from app.federation.client import PeerClient
from app.federation.forward import Dispatcher
from app.federation.mirror import PeerMirror
from app.federation.peers_in import PeerAuthenticator
from app.federation.routes import FederationServices
from app.health import HealthServices
from app.hot_routes import HotRoutes
from app.imports import routes as import_routes
from app.imports.routes import ImportServices
from app.imports.stalled import StalledJobWatcher
from app.keys import KeyStore
from app.metrics import MetricsMiddleware, RequestMetrics
from app.people import admin_routes as staff_admin
from app.people import routes as people_routes
from app.people import sso
from app.people.admin_routes import StaffAdminServices
from app.people.oidc import OidcConfig, OidcRelyingParty
from app.people.roles import RoleBook
from app.people.routes import PeopleServices, session_times
from app.people.session_changes import SessionChanges
from app.people.sessions import Clock, StaffSessions, cookie_name_for, utc_now
from app.people.sso import SsoServices
from app.privacy import PersonalDataVault, decode_key
from app.problems import (
    DatabaseOutageGuard,
    install_error_handlers,
    problem_responses,
    register_problem_schema,
)
from app.ratelimit import Counter, DatabaseCounter, RateLimiter, RateLimitServices, RedisCounter
from app.registry import bulk_routes, card_systems_admin, reference_routes
from app.registry import routes as registry_routes
from app.registry.bulk_routes import BulkServices
from app.registry.routes import RegistryServices
from app.routing import AuthFirstRoute
from app.security import Authenticator, Principal, SecurityServices, require_scope
from app.services import HurenApp
from app.settings import Settings, get_settings
from app.tracing import RequestIdMiddleware, redact_access_log
from app.verification import routes as verification_routes
from app.verification import rules_admin
from app.verification.card_token import CardTokenVerifier
from app.verification.routes import VerificationServices
from app.verification.rules import RuleBook
from app.verification.rules_admin import RulesServices
from app.verification.service import Verifier
from app.web import console as web_console
from app.web import docs as web_docs
from app.web import routes as web_routes


@dataclass(eq=False)
class Services:
    """Everything a worker holds at hand, made once by start_services; each module reads its own view of it
    (app.services.view_of), and check_views has mypy prove the container fits every one."""

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
    catalogue: CatalogueIndex
    verifier: Verifier
    status_lists: StatusListPublisher
    dispatcher: Dispatcher
    card_verifier: CardTokenVerifier
    secret_cache: SecretCache
    staff_sessions: StaffSessions
    # The time sign-in locks and session time-outs are judged by (tests pass one they can move).
    clock: Clock
    # Single sign-on's relying party (None when HUREN_OIDC_ISSUER is unset) and its HTTP client.
    # Hears ended sessions and changed people from every worker (PostgreSQL, in production only).
    session_changes: SessionChanges | None = None
    oidc: OidcRelyingParty | None = None
    oidc_http: httpx.AsyncClient | None = None
    peer_client: PeerClient | None = None
    peer_authenticator: PeerAuthenticator | None = None
    mirror: PeerMirror | None = None
    # Import jobs running in this process: kept referenced until they end (asyncio holds tasks weakly).
    import_tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    # Bulk status changes running in this process, likewise.
    status_change_tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def own_connections(self) -> bool:
        """Whether work may open connections of its own (an import's COPY beside its transaction): not when
        every session is bound to one connection, as a test's rolled-back one is."""
        return not isinstance(self.sessionmaker.kw.get("bind"), AsyncConnection)

    async def close(self, *, dispose_engine: bool) -> None:
        """Stop what start-up started, in reverse."""
        # First the audit events still queued: uvicorn has let the requests in flight finish (or given up on
        # them after its grace period); what they queued is committed while the engine is still open.
        await self.verifier.audit.flush()
        if self.mirror is not None:
            await self.mirror.stop()
        if self.peer_client is not None:
            await self.peer_client.close()
        if self.oidc_http is not None:
            await self.oidc_http.aclose()
        if self.session_changes is not None:
            await self.session_changes.stop()
        await self.rate_limiter.counter.close()
        if self.read_engine is not None and self.read_engine.dialect.name != "sqlite":
            await self.read_engine.dispose()  # a pool of its own (SQLite's shares the engine's)
        if dispose_engine:
            await self.engine.dispose()


def check_views(services: Services) -> None:
    """Nothing at run time: mypy checks that the container offers every module the view it reads."""
    security: SecurityServices = services
    rate_limits: RateLimitServices = services
    health_checks: HealthServices = services
    sessions: SessionServices = services
    cards: CardServices = services
    clients: ClientServices = services
    federation: FederationServices = services
    imports: ImportServices = services
    registry: RegistryServices = services
    bulk: BulkServices = services
    verification: VerificationServices = services
    rules: RulesServices = services
    catalogue: CatalogueServices = services
    people: PeopleServices = services
    staff: StaffAdminServices = services
    sso: SsoServices = services
    del security, rate_limits, health_checks, sessions, cards, clients, federation, imports, registry
    del verification, rules, people, staff, sso, bulk, catalogue


async def start_services(
    app: HurenApp,
    engine: AsyncEngine,
    transactions: Transactions | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    clock: Clock | None = None,
) -> Services:
    """Build everything a worker needs at hand (database, keys, token checking, shared rate-limit counters)
    and attach it to the app.

    Tests pass their own transaction and session factories, bound to a connection they roll back.
    """
    settings = app.settings
    production = transactions is None
    # Verification only reads (its audit event goes through the group-commit writer): in production it gets
    # connections without a transaction of their own; tests read through their rolled-back connection.
    read_engine: AsyncEngine | None = None
    if transactions is None:
        read_engine = create_read_engine(
            engine, settings, settings.db_pool_size, settings.db_statement_timeout_ms
        )
        reads: Transactions = read_engine.connect
        transactions = engine.begin
    else:
        reads = transactions
    keys = KeyStore(decode_key(settings.data_key.get_secret_value()), settings.key_refresh_seconds)
    await keys.load(transactions)
    counter: Counter = (
        RedisCounter(settings.redis_url, settings.redis_timeout_seconds)
        if settings.redis_url
        else DatabaseCounter(transactions, engine.dialect.name)
    )
    rule_book = RuleBook(reads, settings.rules_refresh_seconds)
    catalogue = CatalogueIndex(reads, settings.rules_refresh_seconds)
    verifier = Verifier(
        reads=reads,
        keys=keys,
        vault=app.vault,
        rules=rule_book,
        audit=AuditWriter(transactions),
        issuer=settings.public_url,
        receipt_ttl=timedelta(days=settings.receipt_ttl_days),
        no_match_floor=settings.verify_no_match_floor_ms / 1000,
        catalogue=catalogue,
    )
    status_lists = StatusListPublisher(
        reads=reads,
        keys=keys,
        issuer=settings.public_url,
        ttl=timedelta(seconds=settings.status_list_ttl_seconds),
        valid_for=timedelta(days=settings.status_list_valid_days),
    )
    clock = clock or utc_now
    staff_sessions = StaffSessions(
        reads,
        transactions,
        RoleBook(reads),
        cookie_name=cookie_name_for(settings.public_url),
        times=session_times(settings),
    )
    session_changes = None
    if production and engine.dialect.name == "postgresql":
        # Tests' sessions live in a transaction that never commits: nothing would ever be heard there, so
        # their workers keep nothing between requests (StaffSessions reads afresh while not listening).
        session_changes = SessionChanges(
            settings.database_url, staff_sessions.forget, staff_sessions.set_listening
        )
        session_changes.start()
    oidc_http = httpx.AsyncClient(timeout=settings.oidc_timeout_seconds) if settings.oidc_enabled else None
    peers = PeerClient(settings, keys, metrics=app.metrics) if settings.peers else None
    mirror = PeerMirror(peers, settings.peer_refresh_seconds, transactions) if peers else None
    services = Services(
        settings=settings,
        vault=app.vault,
        metrics=app.metrics,
        engine=engine,
        read_engine=read_engine,
        transactions=transactions,
        sessionmaker=sessionmaker or create_sessionmaker(engine),
        keys=keys,
        authenticator=Authenticator(keys=keys, transactions=transactions, issuer=settings.public_url),
        rate_limiter=RateLimiter(
            counter,
            processes=settings.rate_limit_processes,
            probe_seconds=settings.redis_probe_seconds,
            metrics=app.metrics,
        ),
        rule_book=rule_book,
        catalogue=catalogue,
        verifier=verifier,
        status_lists=status_lists,
        dispatcher=Dispatcher(
            local=verifier, peers=peers, regions=settings.regions, rules=rule_book, audit=verifier.audit
        ),
        card_verifier=CardTokenVerifier(
            keys=keys,
            transactions=transactions,
            status_lists=status_lists,
            rules=rule_book,
            audit=verifier.audit,
            issuer=settings.public_url,
            regions=settings.regions,
            receipt_ttl=timedelta(days=settings.receipt_ttl_days),
            mirror=mirror,
        ),
        secret_cache=SecretCache(),
        staff_sessions=staff_sessions,
        session_changes=session_changes,
        clock=clock,
        oidc=relying_party(settings, oidc_http) if oidc_http is not None else None,
        oidc_http=oidc_http,
        peer_client=peers,
        peer_authenticator=(
            PeerAuthenticator(peers=peers, own_issuer=settings.public_url, transactions=transactions)
            if peers
            else None
        ),
        mirror=mirror,
    )
    app.attached = services
    return services


def relying_party(settings: Settings, http: httpx.AsyncClient) -> OidcRelyingParty:
    issuer, client_id, secret = settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret
    if issuer is None or client_id is None or secret is None:  # Settings.check_people: all three or none
        raise ValueError("single sign-on is not configured")
    return OidcRelyingParty(
        OidcConfig(
            issuer=issuer,
            client_id=client_id,
            client_secret=secret.get_secret_value(),
            redirect_uri=f"{settings.public_url.rstrip('/')}/auth/oidc/callback",
            group_map={group: tuple(grants) for group, grants in settings.oidc_group_map.items()},
            claim=settings.oidc_claim,
        ),
        http,
    )


def create_app(settings: Settings | None = None, *, engine: AsyncEngine | None = None) -> HurenApp:
    """Build the app. Tests pass their own settings and, to share one migrated database, their engine."""
    settings = settings or get_settings()
    redact_access_log()

    @asynccontextmanager
    async def lifespan(app: HurenApp) -> AsyncIterator[None]:
        services = await start_services(
            app, engine or create_engine(settings, settings.db_statement_timeout_ms)
        )
        if services.mirror is not None:
            services.mirror.start()  # copies of the peers' keys and status lists, kept fresh
        # Import jobs whose worker died (SIGKILL, out of memory) are found and run again by a live one.
        stalled = StalledJobWatcher(import_routes.deps_of(services), services.import_tasks)
        stalled.start()
        # Everything made at start (modules, models, the app) lives as long as the process: move it out of the
        # collector's reach, so the full collections that pause every request in flight have less to walk.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await stalled.stop()
            await services.close(dispose_engine=engine is None)

    metrics = RequestMetrics()
    app = HurenApp(
        settings=settings,
        vault=PersonalDataVault.from_settings(settings),
        metrics=metrics,
        title="huren 互认",
        version="1.0.0",
        summary="Sichuan–Chongqing credential mutual recognition: registries, verification, talent cards.",
        lifespan=lifespan,
        responses=problem_responses(401, 403, 413, 422),
        # FastAPI's docs pages load their scripts from a CDN: app.web.docs serves them from a package instead.
        # No OAuth2 redirect page: tokens come from the client-credentials grant, pasted into "Authorize".
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.router.route_class = AuthFirstRoute  # for the routes declared on the app itself (/metrics)
    register_problem_schema(app)
    install_error_handlers(app, settings.db_retry_after_seconds)
    # Routes are matched in order: the verification routes, called all day, come first. HotRoutes serves them
    # as their router declares them: include it without a prefix or dependencies of its own.
    app.include_router(verification_routes.router)
    app.include_router(health.router)
    app.include_router(client_routes.token_router)
    app.include_router(client_routes.admin_router)
    app.include_router(people_routes.router)
    app.include_router(staff_admin.router)
    app.include_router(sso.router)
    app.include_router(audit_routes.router)
    app.include_router(registry_routes.router)
    app.include_router(bulk_routes.router)
    app.include_router(reference_routes.router)
    app.include_router(catalogue_routes.router)
    app.include_router(import_routes.router)
    app.include_router(card_routes.router)
    app.include_router(card_routes.lists_router)
    app.include_router(web_routes.router)
    app.include_router(web_console.router)
    app.include_router(web_docs.router)
    app.include_router(federation_routes.router)
    app.include_router(rules_admin.router)
    app.include_router(card_systems_admin.router)
    app.include_router(catalogue_admin.router)

    @app.get("/metrics", include_in_schema=False)
    def read_metrics(
        request: Request, principal: Annotated[Principal, Depends(require_scope("metrics"))]
    ) -> Response:
        return metrics.render(request)

    app.add_middleware(HotRoutes, router=verification_routes.router)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, streamed={"/v1/imports": settings.import_max_bytes}
    )
    app.add_middleware(DatabaseOutageGuard, retry_after_seconds=settings.db_retry_after_seconds)
    app.add_middleware(RequestIdMiddleware)
    return app
