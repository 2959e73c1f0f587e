"""Rate limits shared by every worker process: fixed one-minute windows counted in Redis or the database.

Counters are written in their own short transaction, never the request's: a request that fails (a wrong
secret, say) must still count, and its rollback must not undo the count.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.db import Transactions
from app.errors import AppError
from app.models import RateLimitCounter
from app.security import Principal, authenticate
from app.services import services_of
from app.settings import Settings


class RateLimitServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def rate_limiter(self) -> RateLimiter: ...

    @property
    def settings(self) -> Settings: ...


def services(request: Request) -> RateLimitServices:
    view: RateLimitServices = services_of(request)
    return view


WINDOW_SECONDS = 60


class TooManyRequests(AppError):
    status, slug, title = 429, "rate-limited", "Too many requests"


@dataclass(frozen=True)
class Window:
    index: int
    retry_after: int


def current_window(now: float | None = None) -> Window:
    now = time.time() if now is None else now
    index = int(now // WINDOW_SECONDS)
    return Window(index, max(1, int((index + 1) * WINDOW_SECONDS - now + 0.999)))


class Counter(Protocol):
    async def increment(self, key: str, window: int, amount: int) -> int: ...

    async def close(self) -> None: ...


class DatabaseCounter:
    def __init__(self, transactions: Transactions, dialect: str) -> None:
        self.transactions = transactions
        self.insert = pg_insert if dialect == "postgresql" else sqlite_insert
        self.last_purge = 0

    async def increment(self, key: str, window: int, amount: int) -> int:
        statement = (
            self.insert(RateLimitCounter)
            .values(key=key, window=window, count=amount)
            .on_conflict_do_update(
                index_elements=["key", "window"], set_={"count": RateLimitCounter.count + amount}
            )
            .returning(RateLimitCounter.count)
        )
        async with self.transactions() as conn:
            count = int((await conn.execute(statement)).scalar_one())
            if window > self.last_purge:
                # Old windows are dead weight: drop them once per window per process.
                self.last_purge = window
                await conn.execute(delete(RateLimitCounter).where(RateLimitCounter.window < window - 1))
        return count

    async def close(self) -> None:
        return None


class RedisCounter:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)

    async def increment(self, key: str, window: int, amount: int) -> int:
        name = f"huren:rl:{key}:{window}"
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incrby(name, amount)
            pipe.expire(name, WINDOW_SECONDS * 2)
            count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class LocalCount:
    window: int
    known: int = 0  # the shared total as last read
    pending: int = 0  # hits counted here and not yet added to the shared total
    flushed_at: float = 0.0


class RateLimiter:
    """Enforces per-minute budgets on a shared counter without a write per request.

    Far below a limit, each process adds its hits to the shared counter in batches (every 2 % of the limit
    or every `flush_seconds`, whichever comes first); within `exact_margin` of the limit every hit is added
    at once, so the limit itself is exact. Several workers can together overshoot by at most their unflushed
    batches, which the margin keeps below it for up to `exact_margin / batch` workers.
    """

    def __init__(self, counter: Counter, flush_seconds: float = 0.25, workers: int = 8) -> None:
        self.counter, self.flush_seconds, self.workers = counter, flush_seconds, workers
        self.local: dict[str, LocalCount] = {}
        self.window = -1

    async def enforce(self, key: str, limit: int, cost: int = 1) -> None:
        """Count `cost` requests (a batch of verifications costs one per item) and refuse past the limit."""
        window = current_window()
        if window.index != self.window:
            self.local.clear()  # counts of past windows are no longer needed
            self.window = window.index
        local = self.local.setdefault(key, LocalCount(window.index))
        local.pending += cost
        batch = max(1, limit // 50)
        near_limit = local.known + local.pending >= limit - batch * self.workers
        stale = time.monotonic() - local.flushed_at >= self.flush_seconds
        if near_limit or stale or local.pending >= batch:
            amount, local.pending = local.pending, 0
            local.flushed_at = time.monotonic()
            local.known = await self.counter.increment(key, window.index, amount)
        if local.known + local.pending > limit:
            raise TooManyRequests(
                f"more than {limit} requests a minute; try again later",
                headers={"Retry-After": str(window.retry_after)},
                retry_after=window.retry_after,
            )


def client_address(request: Request) -> str:
    # Behind a load balancer, run uvicorn with --proxy-headers and a trusted --forwarded-allow-ips.
    return request.client.host if request.client else "unknown"


def rate_limited(route: str) -> Callable[..., Awaitable[Principal]]:
    """A route dependency: the caller's client and source address each get a per-minute budget."""

    async def check(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        await charge_budget(request, principal, route)
        return principal

    return check


async def charge_budget(request: Request, principal: Principal, route: str, cost: int = 1) -> None:
    """Count `cost` requests against the caller's client and source address budgets of `route`."""
    view = services(request)
    limiter, settings = view.rate_limiter, view.settings
    await limiter.enforce(
        f"{principal.budget_key}:{route}",
        principal.rate_limit_per_minute or settings.rate_limit_per_minute,
        cost,
    )
    await limiter.enforce(
        f"addr:{client_address(request)}:{route}", settings.rate_limit_per_address_per_minute, cost
    )
