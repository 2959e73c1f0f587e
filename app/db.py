"""Engine, session factory and the declarative base: the database plumbing every layer above shares."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import MetaData, event
from sqlalchemy import exc as sa_exc
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


def create_engine(settings: Settings, statement_timeout_ms: int | None = None) -> AsyncEngine:
    """The engine of a process. The server passes `statement_timeout_ms` (HUREN_DB_STATEMENT_TIMEOUT_MS) so
    no request waits on a statement without bound; command-line work (imports, audit verification) may run
    longer statements and passes none."""
    if settings.is_sqlite:
        engine = create_async_engine(settings.database_url, connect_args={"timeout": 30})
        install_sqlite_pragmas(engine)
        return engine
    # No pre-ping: it costs a round trip per checkout on the hot path. Connections are recycled instead; a
    # connection the server dropped fails one request (503, see is_database_unavailable) and is invalidated,
    # so the pool replaces it once the database is back.
    # A fixed pool: overflow connections are closed as soon as they are returned, so under steady load above
    # pool_size every checkout paid a new connection (TLS negotiation, authentication, an empty
    # prepared-statement cache): measured at 40 % of a verification's CPU with 32 clients. Requests beyond the
    # pool wait for a connection instead (up to pool_timeout).
    options = postgres_pool_options(settings, settings.db_pool_size, statement_timeout_ms)
    return mark_connect_failures(create_async_engine(settings.database_url, **options))


def postgres_pool_options(
    settings: Settings, pool_size: int, statement_timeout_ms: int | None
) -> dict[str, Any]:
    """Bounded waits: for a pooled connection (pool_timeout), a new one (asyncpg's connect timeout) and, when
    given, every statement (PostgreSQL's statement_timeout, set once per connection: no round trip)."""
    server_settings = {"statement_timeout": str(statement_timeout_ms)} if statement_timeout_ms else {}
    return {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_recycle": 1800,
        "pool_timeout": settings.db_pool_timeout_seconds,
        "connect_args": {"timeout": settings.db_connect_timeout_seconds, "server_settings": server_settings},
    }


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
        # A row that INSERT OR REPLACE (or UPDATE OR REPLACE) deletes to make room fires the delete triggers
        # only with this on: without it, a REPLACE into a code table could remove a code that credentials
        # name, past the triggers that keep code tables whole (migration 0016).
        cursor.execute("PRAGMA recursive_triggers=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # Read-only connections (see create_read_engine) take no write lock: readers never queue.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


READ_ONLY = "huren_read_only"


def create_read_engine(
    engine: AsyncEngine, settings: Settings, pool_size: int, statement_timeout_ms: int | None = None
) -> AsyncEngine:
    """An engine for statements that only read (verification), without a transaction round trip of their own.

    PostgreSQL: an engine of its own in autocommit, so a look-up is one round trip instead of BEGIN, SELECT,
    COMMIT. Its own pool, because switching a shared connection to autocommit and back on every checkout
    (execution options) cost more CPU than the query did. SQLite: the same pool, with a deferred BEGIN, which
    takes no write lock.
    """
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{READ_ONLY: True})
    options = postgres_pool_options(settings, pool_size, statement_timeout_ms)
    return mark_connect_failures(create_async_engine(engine.url, isolation_level="AUTOCOMMIT", **options))


def mark_connect_failures(engine: AsyncEngine) -> AsyncEngine:
    """Mark every failure to open a connection as a lost connection (connection_invalidated), whatever the
    server said: "the database system is starting up", "is not currently accepting connections", too many
    clients. A request that cannot get a connection met an outage (503), whatever its cause."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def on_error(context: Any) -> None:
        if context.connection is None and not context.is_pre_ping:
            context.is_disconnect = True

    return engine


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
    except Exception as exc:
        if raw.is_closed():
            await conn.invalidate()
            # Whatever the driver raised (some of it reads like a bug of its own: "cannot switch to state"),
            # the connection was lost: an outage (503), not a fault of the request.
            raise ConnectionLost("the database closed the connection") from exc
        raise


class ConnectionLost(ConnectionError):
    """A connection the database dropped under a statement run on the driver itself."""


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# SQLSTATE classes meaning "not now" rather than "not so": 08 connection exception, 53 insufficient resources
# (too many connections, out of memory or disk), 57 operator intervention (statement time-out 57014, the
# backend terminated 57P01-57P03, the database restarting).
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be used just now (down, restarting, saturated, too slow),
    rather than that the request or the code was wrong. Walks the chain of causes: SQLAlchemy wraps the
    driver's error, and the driver's adapter wraps asyncpg's own."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        link = pending.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        if unavailable_itself(link):
            return True
        pending.extend((link.__cause__, link.__context__, getattr(link, "orig", None)))
    return False


def unavailable_itself(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free within pool_timeout
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, ConnectionError | asyncpg.exceptions.InterfaceError):
        # Refused, reset, or asyncpg's "connection is closed" on a connection PostgreSQL dropped.
        return True
    if isinstance(exc, TimeoutError):
        # asyncpg's connect time-out (HUREN_DB_CONNECT_TIMEOUT_SECONDS): a server that accepts and then says
        # nothing (frozen, or its host overloaded). SQLAlchemy passes it on unwrapped. Nothing else of the
        # service lets a bare TimeoutError out: peers and Redis raise their own types.
        return True
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES:
        return True
    # SQLite: a writer held the lock past the busy timeout.
    return isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc)
