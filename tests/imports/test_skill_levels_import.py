"""Bulk import of skill certificates of the eight levels: new levels stored with the format their number
matched, and the legacy 16-digit number's level digit (position 11, unconfirmed) not enforced."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Credential
from tests.factories import next_serial, skill_payload
from tests.imports.test_import import flatten, to_csv, upload


def legacy_number(level_digit: str) -> str:
    """A 16-digit 职业资格 number with `level_digit` at position 11."""
    return f"{next_serial() % 10**10:010d}{level_digit}{next_serial() % 10**5:05d}"


async def test_rows_of_the_new_levels_are_imported_with_their_format(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    rows = [flatten(skill_payload(level=level)) for level in (6, 7, 8, 3)]
    rows.append(flatten(skill_payload(level=5, number=legacy_number("5"))))
    answer = await upload(client, "skill", to_csv("skill", rows), mode="commit")
    assert answer.json()["inserted"] == 5, answer.text
    stored = dict(
        (
            await session.execute(
                select(Credential.number, Credential.skill_level).where(
                    Credential.number.in_([r["number"] for r in rows])
                )
            )
        ).all()
    )
    assert stored == {r["number"]: int(r["level"]) for r in rows}
    formats = {}
    for row in rows:
        record = (await client.get(f"/v1/credentials/skill/{row['region']}/{row['number']}")).json()
        formats[int(row["level"])] = (record["number_format"], record["level_name"])
    assert formats == {
        6: ("national-eight-level", "学徒工"),
        7: ("national-eight-level", "特级技师"),
        8: ("national-eight-level", "首席技师"),
        3: ("national-2020", "三级/高级工"),
        5: ("legacy-qualification", "五级/初级工"),
    }


async def test_a_legacy_number_whose_unconfirmed_level_digit_disagrees_is_still_imported(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The legacy level position (11) is reported, not confirmed: the import does not refuse a real
    certificate on it (`level_enforced: false`), while a national-2020 number's level digit is enforced."""
    agreeing = flatten(skill_payload(level=4, number=legacy_number("4")))
    disagreeing = flatten(skill_payload(level=4, number=legacy_number("2")))
    national_disagreeing = flatten(skill_payload(level=4))
    national_disagreeing["number"] = (
        national_disagreeing["number"][:15] + "2" + national_disagreeing["number"][16:]
    )
    content = to_csv("skill", [agreeing, disagreeing, national_disagreeing])
    job = (await upload(client, "skill", content, mode="commit", on_error="skip")).json()
    assert job["inserted"] == 2, job
    errors = (await client.get(job["errors_url"])).json()["errors"]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [
        (3, "number", "skill_number.level_mismatch")
    ]
    numbers = [agreeing["number"], disagreeing["number"], national_disagreeing["number"]]
    found = (await session.scalars(select(Credential.number).where(Credential.number.in_(numbers)))).all()
    assert set(found) == {agreeing["number"], disagreeing["number"]}


async def test_a_new_level_on_a_number_of_before_2022_is_refused(client: httpx.AsyncClient) -> None:
    row = flatten(skill_payload(level=7))
    row["number"] = row["number"][:13] + "21" + row["number"][15:]  # issue year 2021: before the new levels
    job = (await upload(client, "skill", to_csv("skill", [row]))).json()
    errors = (await client.get(job["errors_url"])).json()["errors"]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [(1, "number", "skill_number.issue_year")]
