"""Bulk import over HTTP: row-precise errors, all-or-nothing, skip, idempotency, formats, hostile files."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.kinds import KINDS
from app.imports.parsing import COLUMNS
from app.imports.validation import flatten_payload
from app.models import Credential, ImportJob
from tests.factories import card_payload, skill_payload, title_payload

PROBLEM = "application/problem+json"


flatten = flatten_payload  # request bodies as file rows, the app's own inverse of build_payload


def to_csv(kind: str, rows: Sequence[dict[str, str]], bom: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS[kind]), extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode()


def valid_titles(count: int) -> list[dict[str, str]]:
    return [flatten(title_payload()) for _ in range(count)]


async def upload(
    client: httpx.AsyncClient,
    kind: str,
    content: bytes,
    *,
    mode: str = "validate",
    key: str | None = None,
    name: str = "rows.csv",
    content_type: str = "text/csv",
    **params: str,
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    if mode == "commit" and key is None:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    return await client.post(
        "/v1/imports",
        params={"kind": kind, "mode": mode, **params},
        headers=headers,
        files={"file": (name, content, content_type)},
    )


async def stored_numbers(session: AsyncSession, numbers: Sequence[str]) -> set[str]:
    found = await session.scalars(select(Credential.number).where(Credential.number.in_(numbers)))
    return set(found.all())


def bad_rows() -> list[tuple[dict[str, str], str, str]]:
    """(row, column, code) for each kind of bad row."""

    def broken(**changes: str) -> dict[str, str]:
        return {**flatten(title_payload()), **changes}

    return [
        (broken(holder_id_number="510104198201130014"), "holder_id_number", "id_number.checksum"),
        (broken(issuer_usci="91350100M000100Y44"), "issuer_usci", "usci.checksum"),
        (broken(title_code="9999"), "title_code", "title_code.unknown"),
        (broken(title_code="05X2"), "title_code", "title_code.format"),
        (broken(issued_on="2999-01-01"), "issued_on", "date.future"),
        (broken(obtained_on="2023-12-31", issued_on="2023-01-01"), "obtained_on", "date.order"),
        (broken(issued_on="2021-02-30"), "issued_on", "date_from_datetime_parsing"),
        (broken(region="GD"), "region", "region.unknown"),
        (broken(holder_name=""), "holder_name", "missing"),
        (broken(valid_from="2022-01-01", valid_until="2021-01-01"), "valid_until", "validity.window"),
    ]


async def test_validate_reports_exactly_the_bad_rows(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    good = valid_titles(5)
    bad = bad_rows()
    rows = good[:2] + [r for r, _, _ in bad] + good[2:]
    response = await upload(client, "title", to_csv("title", rows))
    assert response.status_code == 201, response.text
    job = response.json()
    assert (job["status"], job["total_rows"], job["rejected"], job["inserted"]) == (
        "succeeded",
        len(rows),
        len(bad),
        0,
    )
    errors = (await client.get(job["errors_url"])).json()["errors"]
    expected = {(3 + i, column, code) for i, (_, column, code) in enumerate(bad)}
    assert {(e["row"], e["column"], e["code"]) for e in errors} >= expected
    assert {e["row"] for e in errors} == {row for row, _, _ in expected}
    assert bad[0][0]["holder_id_number"] not in json.dumps(errors)
    assert await stored_numbers(session, [r["number"] for r in rows]) == set()


async def test_commit_is_all_or_nothing(client: httpx.AsyncClient, session: AsyncSession) -> None:
    rows = [*valid_titles(4), bad_rows()[0][0]]
    job = (await upload(client, "title", to_csv("title", rows), mode="commit")).json()
    assert (job["status"], job["rejected"], job["inserted"]) == ("failed", 1, 0)
    assert job["problem"]["code"] == "import.rows_rejected"
    assert await stored_numbers(session, [r["number"] for r in rows]) == set()


async def test_skip_stores_exactly_the_valid_rows(client: httpx.AsyncClient, session: AsyncSession) -> None:
    good = valid_titles(4)
    rows = [*good[:2], bad_rows()[1][0], *good[2:]]
    job = (await upload(client, "title", to_csv("title", rows), mode="commit", on_error="skip")).json()
    assert (job["status"], job["rejected"], job["inserted"]) == ("succeeded", 1, 4)
    assert await stored_numbers(session, [r["number"] for r in rows]) == {r["number"] for r in good}


async def test_reimport_is_unchanged_and_a_change_bumps_the_version(client: httpx.AsyncClient) -> None:
    rows = valid_titles(3)
    first = (await upload(client, "title", to_csv("title", rows), mode="commit")).json()
    assert (first["inserted"], first["status"]) == (3, "succeeded")
    again = (await upload(client, "title", to_csv("title", rows), mode="commit")).json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    rows[1] = {**rows[1], "specialty": "材料工程"}
    changed = (await upload(client, "title", to_csv("title", rows), mode="commit")).json()
    assert (changed["inserted"], changed["updated"], changed["unchanged"]) == (0, 1, 2)
    credential = (await client.get(f"/v1/credentials/title/SC/{rows[1]['number']}")).json()
    assert (credential["version"], credential["specialty"]) == (2, "材料工程")


async def test_duplicates_in_the_file_name_both_rows(client: httpx.AsyncClient) -> None:
    rows = valid_titles(3)
    rows.append({**flatten(title_payload()), "number": rows[0]["number"]})
    other_name = {
        **flatten(title_payload()),
        "holder_id_number": rows[1]["holder_id_number"],
        "holder_name": "李四",
    }
    rows.append(other_name)
    job = (await upload(client, "title", to_csv("title", rows))).json()
    errors = {(e["row"], e["code"]) for e in (await client.get(job["errors_url"])).json()["errors"]}
    assert {
        (1, "number.duplicate_in_file"),
        (4, "number.duplicate_in_file"),
        (2, "holder.name_conflict_in_file"),
        (5, "holder.name_conflict_in_file"),
    } <= errors


async def test_idempotency_key_rules(client: httpx.AsyncClient, session: AsyncSession) -> None:
    content = to_csv("title", valid_titles(2))
    first = await upload(client, "title", content, mode="commit", key="key-1")
    assert first.status_code == 201
    again = await upload(client, "title", content, mode="commit", key="key-1")
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    other = await upload(client, "title", to_csv("title", valid_titles(1)), mode="commit", key="key-1")
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    missing = await client.post(
        "/v1/imports",
        params={"kind": "title", "mode": "commit"},
        files={"file": ("a.csv", content, "text/csv")},
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "Idempotency-Key"
    job = await session.get(ImportJob, first.json()["id"])
    assert job is not None
    job.status, job.heartbeat_at = "running", datetime.now(UTC)
    await session.commit()
    racing = await upload(client, "title", content, mode="commit", key="key-1")
    assert racing.status_code == 409
    assert racing.headers["content-type"].startswith(PROBLEM)


async def test_bom_gb18030_xlsx_and_jsonl(client: httpx.AsyncClient, session: AsyncSession) -> None:
    bom_rows, gb_rows, xlsx_rows, jsonl_rows = (valid_titles(2) for _ in range(4))
    assert (await upload(client, "title", to_csv("title", bom_rows, bom=True), mode="commit")).json()[
        "inserted"
    ] == 2
    gb = to_csv("title", gb_rows).decode().encode("gb18030")
    answer = await upload(client, "title", gb, mode="commit", content_type="text/csv; charset=GB18030")
    assert answer.json()["inserted"] == 2, answer.text
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(COLUMNS["title"]))
    for row in xlsx_rows:
        sheet.append([row.get(c) for c in COLUMNS["title"]])
    buffer = io.BytesIO()
    book.save(buffer)
    xlsx_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    answer = await upload(
        client, "title", buffer.getvalue(), mode="commit", name="rows.xlsx", content_type=xlsx_type
    )
    assert answer.json()["inserted"] == 2, answer.text
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in jsonl_rows).encode()
    answer = await upload(
        client, "title", lines, mode="commit", name="rows.jsonl", content_type="application/x-ndjson"
    )
    assert answer.json()["inserted"] == 2, answer.text
    everything = bom_rows + gb_rows + xlsx_rows + jsonl_rows
    stored = await stored_numbers(session, [r["number"] for r in everything])
    assert stored == {r["number"] for r in everything}
    holder = (await client.get(f"/v1/credentials/title/SC/{gb_rows[0]['number']}")).json()["holder"]
    assert holder["name"] == gb_rows[0]["holder_name"]


async def test_skill_and_card_rows(client: httpx.AsyncClient) -> None:
    skills = [flatten(skill_payload(level=level)) for level in (1, 5)]
    assert (await upload(client, "skill", to_csv("skill", skills), mode="commit")).json()["inserted"] == 2
    mismatch = {**flatten(skill_payload(level=3)), "level": "4"}
    job = (await upload(client, "skill", to_csv("skill", [mismatch]))).json()
    errors = (await client.get(job["errors_url"])).json()["errors"]
    assert (errors[0]["column"], errors[0]["code"]) == ("number", "skill_number.level_mismatch")
    cards = [flatten(card_payload()), flatten(card_payload(region="SC"))]
    assert (await upload(client, "card", to_csv("card", cards), mode="commit")).json()["inserted"] == 2


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (40 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "status", "code"),
    [
        ("bomb.xlsx", zip_bomb(), 413, "xlsx.too_large"),
        ("rows.csv", b"PK\x03\x04 not really a csv", 422, "file.type_mismatch"),
        ("rows.exe", b"MZ", 415, "file.unsupported_type"),
        ("rows.csv", b"", 422, "file.empty"),
        ("rows.csv", b"region,number\nSC,1\n", 422, "header.missing_columns"),
    ],
)
async def test_hostile_or_broken_files(
    client: httpx.AsyncClient, session: AsyncSession, name: str, content: bytes, status: int, code: str
) -> None:
    before = await session.scalar(select(func.count()).select_from(Credential))
    response = await upload(client, "title", content, name=name, content_type="application/octet-stream")
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == code
    assert await session.scalar(select(func.count()).select_from(Credential)) == before


async def test_error_report_as_csv_is_formula_safe(client: httpx.AsyncClient) -> None:
    row = {**flatten(title_payload()), "holder_id_number": "=HYPERLINK(1)"}
    job = (await upload(client, "title", to_csv("title", [row]))).json()
    report = await client.get(job["errors_url"], headers={"Accept": "text/csv"})
    assert report.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(report.text)))
    assert lines[0] == ["row", "column", "code", "message", "message_zh"]
    assert lines[1][:2] == ["1", "holder_id_number"]
    assert "HYPERLINK" not in report.text


async def test_templates_parse_back(client: httpx.AsyncClient) -> None:
    for kind in KINDS:
        template = await client.get(f"/v1/imports/templates/{kind}.csv")
        assert template.status_code == 200
        job = (await upload(client, kind, template.content)).json()
        assert (job["total_rows"], job["rejected"]) == (1, 0), (kind, job)


async def test_unknown_job_and_anonymous(client: httpx.AsyncClient, anonymous: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/imports/nope")).status_code == 404
    assert (
        await anonymous.post("/v1/imports?kind=title", files={"file": ("a.csv", b"x")})
    ).status_code == 401


async def test_uploads_are_deleted_once_their_job_ends(client: httpx.AsyncClient, app: Any) -> None:
    """An upload holds ID numbers in clear: nothing of it stays on disk after its job."""
    await upload(client, "title", to_csv("title", valid_titles(2)), mode="commit")
    await upload(client, "title", to_csv("title", [bad_rows()[0][0]]))
    leftovers = (
        list(app.services.settings.import_dir.glob("*")) if app.services.settings.import_dir.exists() else []
    )
    assert leftovers == []


async def test_a_finished_job_is_not_resumed(client: httpx.AsyncClient) -> None:
    job = (await upload(client, "title", to_csv("title", valid_titles(1)))).json()
    response = await client.post(f"/v1/imports/{job['id']}/resume")
    assert response.status_code == 409


async def test_rows_of_a_region_this_node_does_not_hold_are_refused(
    client: httpx.AsyncClient, app: Any, session: AsyncSession
) -> None:
    # A Sichuan node: Chongqing's people belong to Chongqing's node (federation).
    app.services.settings = app.services.settings.model_copy(update={"regions": ["SC"]})
    rows = [flatten(title_payload("SC")), flatten(title_payload("CQ")), flatten(title_payload("SC"))]
    response = await upload(client, "title", to_csv("title", rows), mode="commit", on_error="skip")
    assert response.status_code == 201, response.text
    assert (response.json()["inserted"], response.json()["rejected"]) == (2, 1)
    errors = (await client.get(response.json()["errors_url"])).json()["errors"]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [(2, "region", "region.not_held")]
    assert await stored_numbers(session, [r["number"] for r in rows]) == {
        rows[0]["number"],
        rows[2]["number"],
    }
