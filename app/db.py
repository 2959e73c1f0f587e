"""Engine, session factory and the declarative base: the database plumbing every layer above shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from app.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# A short transaction of its own, outside any request's: rate-limit counts, used jtis, key and client reads.
# Production passes engine.begin; tests pass a savepoint on their rolled-back connection.
Transactions = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(settings.database_url, connect_args={"timeout": 30})
        install_sqlite_pragmas(engine)
        return engine
    # No pre-ping: it costs a round trip per checkout on the hot path. Connections are recycled instead, and a
    # connection the server dropped fails one request, which the client may retry.
    return create_async_engine(
        settings.database_url,
        # A fixed pool: overflow connections are closed as soon as they are returned, so under steady load
        # above pool_size every checkout paid a new connection (TLS negotiation, authentication, an empty
        # prepared-statement cache): measured at 40 % of a verification's CPU with 32 clients. Requests beyond
        # the pool wait for a connection instead.
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_recycle=1800,
    )


def install_sqlite_pragmas(engine: AsyncEngine) -> None:
    """Foreign keys on, WAL for concurrent readers, and BEGIN IMMEDIATE issued by us.

    pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs; taking it over is the documented
    SQLAlchemy recipe. IMMEDIATE because nearly every request writes (an audit event at least): a deferred
    transaction that read first cannot upgrade to a writer once another connection has committed, and SQLite
    answers that with an immediate "database is locked" instead of waiting. Taking the write lock at BEGIN
    makes writers queue for up to the busy timeout instead.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # Read-only connections (see create_read_engine) take no write lock: readers never queue.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


READ_ONLY = "huren_read_only"


def create_read_engine(engine: AsyncEngine, pool_size: int) -> AsyncEngine:
    """An engine for statements that only read (verification), without a transaction round trip of their own.

    PostgreSQL: an engine of its own in autocommit, so a look-up is one round trip instead of BEGIN, SELECT,
    COMMIT. Its own pool, because switching a shared connection to autocommit and back on every checkout
    (execution options) cost more CPU than the query did. SQLite: the same pool, with a deferred BEGIN, which
    takes no write lock.
    """
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{READ_ONLY: True})
    return create_async_engine(
        engine.url, isolation_level="AUTOCOMMIT", pool_size=pool_size, max_overflow=0, pool_recycle=1800
    )


async def driver_of(conn: AsyncConnection) -> Any:
    """The asyncpg connection under a checked-out SQLAlchemy one (for COPY, or a hot statement)."""
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None  # a checked-out connection always has its driver's
    return raw


@asynccontextmanager
async def driver_connection(conn: AsyncConnection) -> AsyncIterator[Any]:
    """The asyncpg connection under a checked-out SQLAlchemy one, for the hot statements run past SQLAlchemy.

    SQLAlchemy's asyncpg adapter sends BEGIN only with the first statement run through SQLAlchemy: until then,
    statements sent here run in autocommit, whatever `engine.begin()` promised.

    SQLAlchemy's own error handling is bypassed there: without the invalidation below, a connection that
    PostgreSQL dropped would go back to the pool and fail every request that draws it. (Which error the driver
    raises for it varies: InterfaceError, InternalClientError, OSError; its closed state does not.)
    """
    raw = await driver_of(conn)
    try:
        yield raw
    except Exception:
        if raw.is_closed():
            await conn.invalidate()
        raise


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
