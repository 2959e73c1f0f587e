"""kind=catalogue through the bulk import: valid rows, row-precise errors, re-imports, who may import."""

from __future__ import annotations

import csv
import io
import json

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent, CatalogueEntry, ImportJob
from app.services import HurenApp
from tests.catalogue.conftest import ImportCatalogue, entry, upload_catalogue
from tests.conftest import bearer, mint_token


async def stored(session: AsyncSession) -> dict[str, tuple[str | None, str | None, str, str | None, int]]:
    rows = (await session.scalars(select(CatalogueEntry).where(CatalogueEntry.cluster == "测试集群"))).all()
    return {
        r.post: (r.title_series_code, r.occupation_code, r.urgency, r.region_code, r.version) for r in rows
    }


async def test_a_catalogue_file_is_stored_and_a_reimport_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, import_catalogue: ImportCatalogue
) -> None:
    rows = [
        entry("测试岗位甲", title_series="05", urgency="重度", region="SC"),
        entry("测试岗位乙", occupation_code="6-31-01-03", urgency="moderate"),
        entry("测试岗位丙", title_series="04", urgency="轻度", region="CQ"),
    ]
    job = await import_catalogue(rows)
    assert (job["kind"], job["inserted"], job["updated"], job["unchanged"], job["rejected"]) == (
        "catalogue",
        3,
        0,
        0,
        0,
    )
    assert await stored(session) == {
        "测试岗位甲": ("05", None, "severe", "SC", 1),
        "测试岗位乙": (None, "6-31-01-03", "moderate", None, 1),
        "测试岗位丙": ("04", None, "mild", "CQ", 1),
    }
    again = await import_catalogue(rows)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    rows[0] = {**rows[0], "urgency": "中度"}
    changed = await import_catalogue(rows)
    assert (changed["inserted"], changed["updated"], changed["unchanged"]) == (0, 1, 2)
    assert (await stored(session))["测试岗位甲"] == ("05", None, "moderate", "SC", 2)
    listed = (await client.get("/v1/imports")).json()["items"]
    assert [j["kind"] for j in listed[:3]] == ["catalogue"] * 3
    # Audited as every import is: opened, and committed with its counts.
    events = (
        await session.scalars(select(AuditEvent).where(AuditEvent.object_ref == f"import:{job['id']}"))
    ).all()
    assert {e.action for e in events} == {"import.created", "import.committed"}
    committed = next(e for e in events if e.action == "import.committed")
    assert committed.details == {"kind": "catalogue", "inserted": 3, "updated": 0, "unchanged": 0}


async def test_bad_rows_are_reported_by_row_column_and_code_and_nothing_is_stored(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    rows = [
        entry("测试岗位一", title_series="05"),
        entry("测试岗位二", title_series="05", edition="1999"),
        entry("测试岗位三", title_series="99"),
        entry("测试岗位四", title_series="05", region="GD"),
        entry("测试岗位五", title_series="05", urgency="紧急"),
        entry("测试岗位六"),
        entry("测试岗位七", occupation_code="6-31"),
        entry("测试岗位一", title_series="04"),
        entry("测试岗位九", occupation_code="4-04-05-01", region="SC"),
    ]
    response = await upload_catalogue(client, rows)
    job = response.json()
    assert (job["status"], job["total_rows"], job["rejected"], job["inserted"]) == ("failed", 9, 8, 0)
    assert job["problem"]["code"] == "import.rows_rejected"
    errors = (await client.get(job["errors_url"])).json()["errors"]
    assert {(e["row"], e["column"], e["code"]) for e in errors} == {
        (1, "post", "catalogue.duplicate_in_file"),
        (2, "edition", "catalogue.edition_unknown"),
        (3, "title_series", "title_series.unknown"),
        (4, "region", "region.unknown"),
        (5, "urgency", "literal_error"),
        (6, "title_series", "catalogue.asks_for_missing"),
        (7, "occupation_code", "occupation_code.format"),
        (8, "post", "catalogue.duplicate_in_file"),
    }
    assert all(e["message_zh"] for e in errors)
    assert await stored(session) == {}
    skipped = (await upload_catalogue(client, rows, on_error="skip")).json()
    assert (skipped["status"], skipped["inserted"], skipped["rejected"]) == ("succeeded", 1, 8)
    assert list(await stored(session)) == ["测试岗位九"]  # row 1 is one of a duplicate pair: rejected too


async def test_validate_mode_stores_nothing_and_the_template_imports(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    template = await client.get("/v1/imports/templates/catalogue.csv")
    assert template.status_code == 200
    rows = list(csv.DictReader(io.StringIO(template.text.lstrip("\ufeff"))))
    assert list(rows[0]) == [
        "edition",
        "cluster",
        "post",
        "title_series",
        "occupation_code",
        "urgency",
        "region",
    ]
    assert "示例" in rows[0]["post"]
    job = (await upload_catalogue(client, rows, mode="validate")).json()
    assert (job["status"], job["total_rows"], job["rejected"], job["inserted"]) == ("succeeded", 1, 0, 0)
    assert (
        await session.scalars(select(CatalogueEntry).where(CatalogueEntry.post == rows[0]["post"]))
    ).all() == []


async def test_only_admins_import_the_catalogue(app: HurenApp, session: AsyncSession) -> None:
    token = mint_token(app, "test-admin", "registry:write")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=bearer(token)
    ) as writer:
        response = await upload_catalogue(writer, [entry("测试岗位", title_series="05")])
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert (await session.scalars(select(ImportJob).where(ImportJob.kind == "catalogue"))).all() == []


async def test_a_region_given_with_the_upload_scopes_rows_without_one(
    session: AsyncSession, import_catalogue: ImportCatalogue
) -> None:
    await import_catalogue([entry("测试岗位", title_series="05")], region="CQ")
    assert (await stored(session))["测试岗位"][3] == "CQ"


async def test_a_catalogue_in_json_lines_imports_like_a_csv(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    lines = [
        {
            "edition": "2023",
            "cluster": "测试集群",
            "post": "测试岗位·行",
            "title_series": "05",
            "urgency": "severe",
        },
        {
            "edition": "2023",
            "cluster": "测试集群",
            "post": "测试岗位·列",
            "occupation_code": "6-28-01-14",
            "urgency": "轻度",
            "region": "CQ",
        },
    ]
    body = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode()
    response = await client.post(
        "/v1/imports",
        params={"kind": "catalogue", "mode": "commit"},
        headers={"Idempotency-Key": "catalogue-jsonl"},
        files={"file": ("catalogue.jsonl", body, "application/x-ndjson")},
    )
    assert response.status_code == 201, response.text
    assert (response.json()["status"], response.json()["inserted"]) == ("succeeded", 2)
    assert await stored(session) == {
        "测试岗位·行": ("05", None, "severe", None, 1),
        "测试岗位·列": (None, "6-28-01-14", "mild", "CQ", 1),
    }
