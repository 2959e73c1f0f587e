"""Rate limits shared by every worker process: fixed one-minute windows counted in Redis or the database.

Counters are written in their own short transaction, never the request's: a request that fails (a wrong
secret, say) must still count, and its rollback must not undo the count.

When Redis does not answer (refused, reset, or silent past `redis_timeout_seconds`), each process counts
alone and allows its share of every budget, limit / `rate_limit_processes`, so that together they still
allow no more than the limit; it says so once in the log and in the `huren_ratelimit_fallback` gauge, and
tries Redis again every `redis_probe_seconds` (one request does, the others keep counting alone).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, NoReturn, Protocol

from fastapi import Depends, Request
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.db import Transactions
from app.errors import AppError
from app.metrics import RequestMetrics
from app.models import RateLimitCounter
from app.security import Principal, authenticate
from app.services import services_of
from app.settings import Settings

log = logging.getLogger("huren.ratelimit")


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
    # The errors that mean "the counter is gone for now": the limiter then counts alone rather than fail.
    failures: tuple[type[Exception], ...]

    async def increment(self, key: str, window: int, amount: int) -> int: ...

    async def close(self) -> None: ...


class DatabaseCounter:
    # The database being gone is the request's failure too (503, see app.problems): nothing to fall back on.
    failures: tuple[type[Exception], ...] = ()

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
    def __init__(self, url: str, timeout: float = 0.5) -> None:
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisError

        # No retries (redis-py's default retries thrice with back-off, seconds per request) and a short
        # time-out: a Redis that is gone or silent costs a request at most `timeout` before it counts alone.
        self.client = redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        self.failures: tuple[type[Exception], ...] = (RedisError, OSError)

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

    def __init__(
        self,
        counter: Counter,
        flush_seconds: float = 0.25,
        workers: int = 8,
        *,
        processes: int = 1,
        probe_seconds: float = 2.0,
        metrics: RequestMetrics | None = None,
    ) -> None:
        self.counter, self.flush_seconds, self.workers = counter, flush_seconds, workers
        self.local: dict[str, LocalCount] = {}
        self.window = -1
        # Counting alone (the shared counter does not answer): when to try it again; this process's counts.
        self.processes, self.probe_seconds, self.metrics = processes, probe_seconds, metrics
        self.alone_until: float | None = None
        self.alone: dict[str, int] = {}

    async def enforce(self, key: str, limit: int, cost: int = 1) -> None:
        """Count `cost` requests (a batch of verifications costs one per item) and refuse past the limit."""
        window = current_window()
        if window.index != self.window:
            self.local.clear()  # counts of past windows are no longer needed
            self.alone.clear()
            self.window = window.index
        probing = False
        if self.alone_until is not None:
            now = time.monotonic()
            if now < self.alone_until:
                self.count_alone(key, limit, cost, window)
                return
            # This request tries the shared counter; until it knows, the others keep counting alone.
            self.alone_until, probing = now + self.probe_seconds, True
        local = self.local.setdefault(key, LocalCount(window.index))
        local.pending += cost
        batch = max(1, limit // 50)
        near_limit = local.known + local.pending >= limit - batch * self.workers
        stale = time.monotonic() - local.flushed_at >= self.flush_seconds
        if near_limit or stale or probing or local.pending >= batch:
            amount, local.pending = local.pending, 0
            local.flushed_at = time.monotonic()
            try:
                local.known = await self.counter.increment(key, window.index, amount)
            except self.counter.failures as exc:
                self.fall_back(exc)
                self.count_alone(key, limit, cost, window)
                return
            if self.alone_until is not None:
                self.come_back()
        if local.known + local.pending > limit:
            refuse(limit, window)

    def count_alone(self, key: str, limit: int, cost: int, window: Window) -> None:
        """This process's share of the budget: together the processes still allow no more than `limit`
        (at least one request each, so a limit below the number of processes is exceeded by that much)."""
        count = self.alone.get(key, 0) + cost
        self.alone[key] = count
        if count > max(1, limit // self.processes):
            refuse(limit, window)

    def fall_back(self, exc: Exception) -> None:
        """Count alone from now on; said once per outage (a probe that fails again, or requests failing
        together, stay quiet)."""
        already_alone = self.alone_until is not None
        self.alone_until = time.monotonic() + self.probe_seconds
        if already_alone:
            return
        self.local.clear()  # unflushed hits are dropped (at most a batch per key): counting restarts alone
        if self.metrics is not None:
            self.metrics.ratelimit_fallback.set(1)
            self.metrics.ratelimit_fallbacks.inc()
        log.warning(
            "rate limits: the shared counter does not answer (%s); process %d counts alone at 1/%d of each "
            "budget, trying it again every %g s",
            type(exc).__name__,
            os.getpid(),
            self.processes,
            self.probe_seconds,
        )

    def come_back(self) -> None:
        self.alone_until = None
        self.alone.clear()
        if self.metrics is not None:
            self.metrics.ratelimit_fallback.set(0)
        log.warning("rate limits: the shared counter answers again; process %d counts with it", os.getpid())


def refuse(limit: int, window: Window) -> NoReturn:
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
