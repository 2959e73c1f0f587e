"""Shared fixtures: one migrated database per run (SQLite, plus PostgreSQL when configured), one rolled-back
transaction per test, and an HTTP client on the app in process."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app import ratelimit
from app.clients.service import create_client
from app.db import Transactions, create_engine
from app.keys import ensure_signing_key
from app.main import create_app, start_services
from app.migrate import upgrade_database
from app.privacy import decode_key
from app.reference.seed import seed_reference_data
from app.security import ACCESS_TOKEN, ALL_SCOPES, encode_token, new_jti
from app.services import HurenApp
from app.settings import Settings

# The machines are small and noisy: a per-example deadline would make property tests flaky, not stricter.
hypothesis_settings.register_profile("huren", deadline=None, print_blob=True)
hypothesis_settings.load_profile("huren")

# Committed once per database, before any test: clients every test may use.
TEST_CLIENTS = {
    "test-admin": ("SC", " ".join(sorted(ALL_SCOPES))),
    "test-hr-cq": ("CQ", "verify registry:read"),
    "test-reader": ("SC", "registry:read"),
}
TEST_SECRET = "test-client-secret"
POSTGRES_URL = os.environ.get("HUREN_TEST_DATABASE_URL")
DATABASES = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "postgresql":
        assert POSTGRES_URL is not None
        return POSTGRES_URL
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'huren-test.db'}"


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        public_url="http://testserver",
        max_body_bytes=65_536,
        import_dir=tmp_path_factory.mktemp("imports"),
    )


async def reset_schema(engine: AsyncEngine) -> None:
    """The PostgreSQL test database is dedicated to the suite: start every run from an empty schema."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    await reset_schema(engine)
    await upgrade_database(engine)
    async with AsyncSession(engine) as session, session.begin():
        await seed_reference_data(session)
        await ensure_signing_key(session, decode_key(settings.data_key.get_secret_value()))
        for client_id, (region, scopes) in TEST_CLIENTS.items():
            await create_client(
                session, name=client_id, region=region, scopes=scopes, client_id=client_id, secret=TEST_SECRET
            )
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    # Commits inside the app release savepoints; the outer transaction is rolled back after the test.
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


def savepoints(connection: AsyncConnection) -> Transactions:
    """Side transactions (rate limits, jtis, key reads) as savepoints on the test's own connection."""

    @asynccontextmanager
    async def transaction() -> AsyncIterator[AsyncConnection]:
        async with connection.begin_nested():
            yield connection

    return transaction


@pytest.fixture
async def app(
    settings: Settings,
    engine: AsyncEngine,
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> HurenApp:
    app = create_app(settings, engine=engine)
    # httpx's ASGITransport sends no lifespan events: start what the lifespan would, on the test connection.
    await start_services(app, engine, transactions=savepoints(connection), sessionmaker=sessionmaker)
    return app


def mint_token(app: HurenApp, client_id: str, scopes: str, region: str = "SC", **overrides: Any) -> str:
    """An access token as the token endpoint would issue it, without the round trip."""
    now = int(time.time())
    claims = {
        "iss": "http://testserver",
        "aud": "http://testserver",
        "sub": client_id,
        "client_id": client_id,
        "region": region,
        "scope": scopes,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": new_jti(),
    }
    claims.update(overrides)
    return encode_token(ACCESS_TOKEN, claims, app.services.keys)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(app: HurenApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding an admin token with every scope."""
    token = mint_token(app, "test-admin", TEST_CLIENTS["test-admin"][1])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=bearer(token)
    ) as client:
        yield client


@pytest.fixture
async def anonymous(app: HurenApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


@pytest.fixture
def frozen_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rate-limit tests must not straddle a minute boundary: pin the counting window."""
    window = ratelimit.current_window()
    monkeypatch.setattr(ratelimit, "current_window", lambda now=None: window)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
