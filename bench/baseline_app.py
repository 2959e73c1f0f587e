"""The baseline: a bare Starlette endpoint doing the app's single-credential look-up with raw asyncpg.

    BENCH_DSN=postgresql://postgres@127.0.0.1:5432/huren_bench BENCH_TOKEN=bench-token \\
        .venv/bin/uvicorn bench.baseline_app:create_app --factory --port 8102

`GET /v1/credentials/{kind}/{region}/{number}` runs the same SQL as app.registry.service.get_credential (the
same joins, the same columns fetched: every column of the credential, holder, issuer and title code), checks
the same bearer token and answers the same JSON document as the app. What it leaves out is what the benchmark
measures: FastAPI routing and dependencies, the SQLAlchemy session and ORM, pydantic models, the middleware.
One `fetchrow` per request on a pooled connection: no explicit transaction, no pre-ping.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CREDENTIAL_COLUMNS = [
    *("id", "kind", "region_code", "number", "holder_id", "issuer_id", "status", "status_reason"),
    *("status_changed_at", "issued_on", "valid_from", "valid_until", "version", "supersedes_id"),
    *("created_at", "updated_at", "title_code", "specialty", "obtained_on", "approval_no", "review_body"),
    *("occupation_code", "occupation_name", "skill_level", "work_type", "number_format"),
    *("card_system", "card_class", "entitlements"),
]
HOLDER_COLUMNS = [
    "id",
    "id_type",
    "id_hash",
    "id_cipher",
    "id_masked",
    "name",
    "birth_date",
    "sex",
    "created_at",
]
ISSUER_COLUMNS = ["id", "usci", "name", "region_code", "level", "created_at"]
TITLE_COLUMNS = ["code", "name", "series_code", "level"]


# Columns the app reads through an SQL conversion (app.models.columns.HexBytea): the baseline fetches what the
# app fetches.
CONVERTED = {"id_hash": "encode({column}, 'hex')"}


def columns(alias: str, names: list[str]) -> str:
    return ", ".join(
        f"{CONVERTED.get(name, '{column}').format(column=f'{alias}.{name}')} AS {alias}_{name}"
        for name in names
    )


# The statement app.registry.service.select_records() builds, written out (aliases, join order differ).
LOOKUP_SQL = f"""
SELECT {columns("c", CREDENTIAL_COLUMNS)}, {columns("h", HOLDER_COLUMNS)}, {columns("o", ISSUER_COLUMNS)},
       p.number AS p_number, {columns("t", TITLE_COLUMNS)}, sl.name AS sl_name, cc.name AS cc_name
FROM credentials AS c
JOIN holders AS h ON h.id = c.holder_id
JOIN organisations AS o ON o.id = c.issuer_id
LEFT OUTER JOIN credentials AS p ON p.id = c.supersedes_id
LEFT OUTER JOIN title_codes AS t ON t.code = c.title_code
LEFT OUTER JOIN skill_levels AS sl ON sl.level = c.skill_level
LEFT OUTER JOIN card_classes AS cc ON cc.system_code = c.card_system AND cc.code = c.card_class
WHERE c.kind = $1 AND c.region_code = $2 AND c.number = $3
"""

KINDS = frozenset({"title", "skill", "card"})


def iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        # pydantic writes UTC as "Z".
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def shown_status(status: str, valid_until: date | None) -> str:
    # app.domain.status.effective_status: active or suspended past the last valid day counts as expired.
    if (
        status in ("active", "suspended")
        and valid_until is not None
        and valid_until < datetime.now(UTC).date()
    ):
        return "expired"
    return status


def present(row: Any) -> dict[str, Any]:
    """The same document app.registry.schemas.present_credential answers, field for field."""
    kind = row["c_kind"]
    answer: dict[str, Any] = {
        "kind": kind,
        "region": row["c_region_code"],
        "number": row["c_number"],
        "status": shown_status(row["c_status"], row["c_valid_until"]),
        "status_reason": row["c_status_reason"],
        "status_changed_at": iso(row["c_status_changed_at"]),
        "version": row["c_version"],
        "holder": {
            "name": row["h_name"],
            "id_type": row["h_id_type"],
            "id_number_masked": row["h_id_masked"],
        },
        "issuer": {"name": row["o_name"], "usci": row["o_usci"], "level": row["o_level"]},
        "issued_on": iso(row["c_issued_on"]),
        "valid_from": iso(row["c_valid_from"]),
        "valid_until": iso(row["c_valid_until"]),
        "supersedes": row["p_number"],
        "created_at": iso(row["c_created_at"]),
        "updated_at": iso(row["c_updated_at"]),
    }
    if kind == "title":
        answer.update(
            title_code=row["t_code"],
            title_name=row["t_name"],
            title_series=row["t_series_code"],
            title_level=row["t_level"],
            specialty=row["c_specialty"],
            obtained_on=iso(row["c_obtained_on"]),
            approval_no=row["c_approval_no"],
            review_body=row["c_review_body"],
        )
    elif kind == "skill":
        answer.update(
            occupation_code=row["c_occupation_code"] or "",
            occupation_name=row["c_occupation_name"],
            level=row["c_skill_level"],
            level_name=row["sl_name"] or "",
            work_type=row["c_work_type"],
            number_format=row["c_number_format"],
        )
    else:
        entitlements = row["c_entitlements"]
        answer.update(
            card_system=row["c_card_system"],
            card_class=row["c_card_class"] or "",
            card_class_name=row["cc_name"] or "",
            # asyncpg hands jsonb over as text, as SQLAlchemy's asyncpg dialect does before it decodes it.
            entitlements=json.loads(entitlements) if entitlements else [],
        )
    return answer


def problem(status: int, title: str) -> Response:
    return JSONResponse(
        {"status": status, "title": title}, status_code=status, media_type="application/problem+json"
    )


def create_app() -> Starlette:
    dsn = os.environ.get("BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/huren_bench")
    expected = f"Bearer {os.environ.get('BENCH_TOKEN', 'bench-token')}".encode()
    # The app's engine: pool_size 10 plus max_overflow 10 (HUREN_DB_POOL_SIZE default).
    pool_size = int(os.environ.get("BENCH_POOL_SIZE", "10"))
    pools: list[asyncpg.Pool] = []

    async def get_credential(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not hmac.compare_digest(header.encode(), expected):
            return problem(401, "Unauthorized")
        params = request.path_params
        kind = params["kind"]
        if kind not in KINDS:
            return problem(422, "Invalid input")
        row = await pools[0].fetchrow(LOOKUP_SQL, kind, params["region"], params["number"])
        if row is None:
            return problem(404, "Not found")
        return JSONResponse(present(row))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        pools.append(await asyncpg.create_pool(dsn, min_size=pool_size, max_size=2 * pool_size))
        try:
            yield
        finally:
            await pools.pop().close()

    return Starlette(
        routes=[Route("/v1/credentials/{kind}/{region}/{number}", get_credential, methods=["GET"])],
        lifespan=lifespan,
    )
