"""Rate limits: 429 with Retry-After, per client and per address, counted where every worker sees them."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.clients.service import create_client
from app.metrics import RequestMetrics
from app.ratelimit import DatabaseCounter, RateLimiter, RedisCounter, TooManyRequests, current_window
from app.services import HurenApp
from tests.conftest import bearer, mint_token

REDIS_URL = os.environ.get("HUREN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


pytestmark = pytest.mark.usefixtures("frozen_window")


async def test_client_budget_gives_429_with_retry_after(
    anonymous: httpx.AsyncClient, app: HurenApp, session: AsyncSession
) -> None:
    await create_client(
        session,
        name="slow",
        region="SC",
        scopes="registry:read",
        client_id="sc-slow",
        rate_limit_per_minute=3,
    )
    await session.commit()
    headers = bearer(mint_token(app, "sc-slow", "registry:read"))
    statuses = [
        (await anonymous.get("/v1/credentials?limit=1", headers=headers)).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 200]
    refused = await anonymous.get("/v1/credentials?limit=1", headers=headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "/problems/rate-limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    other = bearer(mint_token(app, "test-reader", "registry:read"))
    assert (await anonymous.get("/v1/credentials?limit=1", headers=other)).status_code == 200


async def test_address_budget_applies_across_clients(anonymous: httpx.AsyncClient, app: HurenApp) -> None:
    app.services.settings = app.services.settings.model_copy(update={"rate_limit_per_address_per_minute": 2})
    first = bearer(mint_token(app, "test-reader", "registry:read"))
    second = bearer(mint_token(app, "test-admin", "registry:read"))
    assert (await anonymous.get("/v1/credentials?limit=1", headers=first)).status_code == 200
    assert (await anonymous.get("/v1/credentials?limit=1", headers=second)).status_code == 200
    assert (await anonymous.get("/v1/credentials?limit=1", headers=first)).status_code == 429


def test_window_retry_after_counts_to_the_window_end() -> None:
    window = current_window(now=120.2)
    assert (window.index, window.retry_after) == (2, 60)
    assert current_window(now=179.5).retry_after == 1


async def two_workers_share(first: RateLimiter, second: RateLimiter) -> None:
    key = f"shared:{uuid.uuid4().hex}"
    await first.enforce(key, 3)
    await second.enforce(key, 3)
    await first.enforce(key, 3)
    with pytest.raises(TooManyRequests):
        await second.enforce(key, 3)


async def test_database_counts_are_shared_between_workers(engine: AsyncEngine) -> None:
    dialect = engine.dialect.name
    await two_workers_share(
        RateLimiter(DatabaseCounter(engine.begin, dialect)),
        RateLimiter(DatabaseCounter(engine.begin, dialect)),
    )


async def test_redis_counts_are_shared_between_workers() -> None:
    first, second = RedisCounter(REDIS_URL), RedisCounter(REDIS_URL)
    try:
        await first.client.ping()
    except (OSError, RedisConnectionError):
        if os.environ.get("CI"):
            raise
        pytest.skip("no Redis on 127.0.0.1:6379 (CI always has one)")
    try:
        await two_workers_share(RateLimiter(first), RateLimiter(second))
    finally:
        await first.close()
        await second.close()


class CountingCounter:
    """An in-memory shared counter that records how often it was written."""

    failures: tuple[type[Exception], ...] = ()

    def __init__(self) -> None:
        self.totals: dict[tuple[str, int], int] = {}
        self.writes = 0

    async def increment(self, key: str, window: int, amount: int) -> int:
        self.writes += 1
        self.totals[(key, window)] = self.totals.get((key, window), 0) + amount
        return self.totals[(key, window)]

    async def close(self) -> None:
        return None


async def test_far_below_the_limit_hits_are_written_in_batches() -> None:
    counter = CountingCounter()
    limiter = RateLimiter(counter, flush_seconds=3600)
    for _ in range(1000):
        await limiter.enforce("busy", 100_000)
    assert counter.writes <= 1000 // (100_000 // 50) + 1
    assert sum(counter.totals.values()) + limiter.local["busy"].pending == 1000


async def test_the_limit_itself_is_exact() -> None:
    counter = CountingCounter()
    limiter = RateLimiter(counter, flush_seconds=3600)
    for _ in range(500):
        await limiter.enforce("edge", 500)
    with pytest.raises(TooManyRequests):
        await limiter.enforce("edge", 500)


async def test_two_batching_workers_never_pass_the_limit_together() -> None:
    counter = CountingCounter()
    workers = [RateLimiter(counter, flush_seconds=3600) for _ in range(2)]
    allowed = 0
    for attempt in range(3000):
        try:
            await workers[attempt % 2].enforce("shared", 1000)
            allowed += 1
        except TooManyRequests:
            pass
    assert 990 <= allowed <= 1000


class OutageCounter(CountingCounter):
    """The in-memory counter, made to fail as an unreachable Redis does while `down`."""

    failures: tuple[type[Exception], ...] = (ConnectionError,)

    def __init__(self) -> None:
        super().__init__()
        self.down, self.attempts = False, 0

    async def increment(self, key: str, window: int, amount: int) -> int:
        self.attempts += 1
        if self.down:
            raise ConnectionError("refused")
        return await super().increment(key, window, amount)


async def test_without_its_counter_each_process_allows_its_share_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counter, metrics = OutageCounter(), RequestMetrics()
    limiter = RateLimiter(counter, processes=4, probe_seconds=3600, metrics=metrics)
    await limiter.enforce("edge", 40)
    counter.down = True
    allowed, retry_afters = 0, []
    for _ in range(30):
        try:
            await limiter.enforce("edge", 40)
            allowed += 1
        except TooManyRequests as refused:
            retry_afters.append((refused.headers or {}).get("Retry-After"))
    assert allowed == 40 // 4
    assert len(retry_afters) == 20
    assert None not in retry_afters
    assert counter.attempts == 2  # the first failure, then no probe before probe_seconds
    assert metrics.registry.get_sample_value("huren_ratelimit_fallback") == 1
    assert len([r for r in caplog.records if "counts alone" in r.getMessage()]) == 1
    counter.down = False
    limiter.alone_until = 0.0  # the probe is due
    await limiter.enforce("edge", 40)
    assert limiter.alone_until is None
    assert metrics.registry.get_sample_value("huren_ratelimit_fallback") == 0
    assert len([r for r in caplog.records if "answers again" in r.getMessage()]) == 1
