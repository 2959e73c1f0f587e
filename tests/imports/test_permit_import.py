"""Importing work permits: row-precise errors, one number per person for life, commit on both databases."""

from __future__ import annotations

import copy

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.imports.validation import flatten_payload
from tests.factories import permit_number, permit_payload, title_payload
from tests.imports.test_import import stored_numbers, to_csv, upload


def permit_row(**changes: str) -> dict[str, str]:
    return {**flatten_payload(permit_payload()), **changes}


async def test_the_permit_template_names_the_permit_columns(client: httpx.AsyncClient) -> None:
    template = await client.get("/v1/imports/templates/permit.csv")
    assert template.status_code == 200
    header = template.text.lstrip("\ufeff").splitlines()[0].split(",")
    assert header[-3:] == ["permit_class", "employer_name", "employer_usci"]
    assert "holder_id_type" in header


async def test_bad_permit_rows_are_reported_row_by_row(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    registered = permit_payload()
    assert (await client.post("/v1/credentials", json=registered)).status_code == 201
    resident = title_payload()["holder"]
    bad = [
        (permit_row(number="12345678901234567"), "number", "permit.number_format"),
        (
            permit_row(holder_id_type="resident_id", holder_id_number=resident["id_number"]),
            "holder_id_type",
            "permit.holder_id_type",
        ),
        (permit_row(permit_class="Z"), "permit_class", "permit_class.unknown"),
        (permit_row(employer_usci="91350100M000100Y44"), "employer_usci", "usci.checksum"),
        # The number of a registered permit, under another holder (in the other region, too).
        (permit_row(number=registered["number"], region="CQ"), "number", "permit.number_other_holder"),
        # The registered holder under another number.
        (
            {**flatten_payload(permit_payload(holder=copy.deepcopy(registered["holder"])))},
            "number",
            "permit.holder_other_number",
        ),
    ]
    good = [permit_row(), permit_row(permit_class="B"), permit_row(permit_class="C")]
    rows = [good[0], *(row for row, _, _ in bad), *good[1:]]
    job = (await upload(client, "permit", to_csv("permit", rows))).json()
    assert (job["status"], job["total_rows"], job["rejected"]) == ("succeeded", len(rows), len(bad)), job
    errors = (await client.get(job["errors_url"])).json()["errors"]
    expected = {(2 + i, column, code) for i, (_, column, code) in enumerate(bad)}
    assert {(e["row"], e["column"], e["code"]) for e in errors} == expected
    assert resident["id_number"] not in str(errors)
    assert await stored_numbers(session, [r["number"] for r in good]) == set()


async def test_rows_that_disagree_on_a_permit_number_name_both_rows(client: httpx.AsyncClient) -> None:
    first, second = permit_row(), permit_row()
    shared = permit_row(number=first["number"], region="CQ")  # first's number, another holder
    renumbered = {**second, "number": permit_number(), "region": "CQ"}  # second's holder, another number
    rows = [first, second, shared, renumbered]
    job = (await upload(client, "permit", to_csv("permit", rows))).json()
    errors = (await client.get(job["errors_url"])).json()["errors"]
    assert {(e["row"], e["code"]) for e in errors} == {
        (1, "permit.number_conflict_in_file"),
        (3, "permit.number_conflict_in_file"),
        (2, "permit.number_conflict_in_file"),
        (4, "permit.number_conflict_in_file"),
    }


async def test_permits_commit_and_reimport_unchanged(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    rows = [permit_row(), permit_row(permit_class="B"), permit_row(permit_class="C", region="CQ")]
    moved = {**rows[0], "region": "CQ"}  # the A-class holder's permit in the other region, same number
    rows.append(moved)
    first = (await upload(client, "permit", to_csv("permit", rows), mode="commit")).json()
    assert (first["status"], first["inserted"], first["rejected"]) == ("succeeded", 4, 0), first
    again = (await upload(client, "permit", to_csv("permit", rows), mode="commit")).json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 4)
    rows[1] = {**rows[1], "employer_name": "另一家示例公司"}
    changed = (await upload(client, "permit", to_csv("permit", rows), mode="commit")).json()
    assert (changed["inserted"], changed["updated"], changed["unchanged"]) == (0, 1, 3)
    stored = (await client.get(f"/v1/credentials/permit/SC/{rows[1]['number']}")).json()
    assert (stored["version"], stored["permit_class"], stored["employer_name"]) == (2, "B", "另一家示例公司")
    both = await client.get("/v1/credentials", params={"kind": "permit", "number": rows[0]["number"]})
    assert {item["region"] for item in both.json()["items"]} == {"SC", "CQ"}
