"""The verification baseline: a bare Starlette endpoint doing the single indexed look-up with raw asyncpg.

    BENCH_DSN=postgresql://postgres@127.0.0.1:5432/huren_bench BENCH_TOKEN=bench-token \\
        .venv/bin/uvicorn bench.verify_baseline:create_app --factory --port 8112

`POST /v1/verify` reads the same JSON body as the app, checks the bearer token against one static value,
fetches the credential with its holder by (kind, region, number) in one `fetchrow` on a pooled connection,
compares the name and answers a small JSON document. What it leaves out is what the benchmark measures: the
app's token verification, rate limiting, validation, checks, recognition, receipt signing and audit event.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

LOOKUP_SQL = """
SELECT c.kind, c.region_code, c.number, c.status, c.valid_until, h.name
FROM credentials AS c JOIN holders AS h ON h.id = c.holder_id
WHERE c.kind = $1 AND c.region_code = $2 AND c.number = $3
"""


def create_app() -> Starlette:
    dsn = os.environ.get("BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/huren_bench")
    expected = f"Bearer {os.environ.get('BENCH_TOKEN', 'bench-token')}".encode()
    pool_size = int(os.environ.get("BENCH_POOL_SIZE", "10"))
    pools: list[asyncpg.Pool] = []

    async def verify(request: Request) -> Response:
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            return JSONResponse({"status": 401}, status_code=401)
        body = json.loads(await request.body())
        row = await pools[0].fetchrow(LOOKUP_SQL, body["kind"], body["region"], body["number"])
        if row is None or row["name"] != body["name"]:
            return JSONResponse({"outcome": "no_match"})
        status = row["status"]
        if status in ("active", "suspended") and row["valid_until"] and row["valid_until"] < date.today():
            status = "expired"
        return JSONResponse(
            {
                "outcome": "valid" if status == "active" else status,
                "credential": {"kind": row["kind"], "region": row["region_code"], "number": row["number"]},
            }
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        pools.append(await asyncpg.create_pool(dsn, min_size=pool_size, max_size=2 * pool_size))
        try:
            yield
        finally:
            await pools.pop().close()

    return Starlette(routes=[Route("/v1/verify", verify, methods=["POST"])], lifespan=lifespan)
