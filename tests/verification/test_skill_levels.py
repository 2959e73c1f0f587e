"""The eight skill levels through the registry and verification: a 特级技师 certificate recognised in the
other region under its mapped rule, the number format reported, five-level records unchanged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Credential
from tests.factories import next_serial, skill_payload
from tests.verification.conftest import MakeCredential, ask


def legacy_number(level_digit: str) -> str:
    """A 16-digit 职业资格 number with `level_digit` at position 11 (where its level is reported to be)."""
    return f"{next_serial() % 10**10:010d}{level_digit}{next_serial() % 10**5:05d}"


async def verify(caller: httpx.AsyncClient, payload: dict[str, Any]) -> dict[str, Any]:
    answer = await caller.post("/v1/verify", json=ask(payload))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_special_grade_technician_is_valid_and_recognised_at_the_level_in_chongqing(
    client: httpx.AsyncClient, hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(skill_payload("SC", level=7, issued_on="2024-05-20"))
    stored = (await client.get(f"/v1/credentials/skill/SC/{payload['number']}")).json()
    assert (stored["level"], stored["level_name"], stored["number_format"]) == (
        7,
        "特级技师",
        "national-eight-level",
    )
    body = await verify(hr_cq, payload)
    assert body["outcome"] == "valid", body
    assert all(check["passed"] for check in body["checks"]), body["checks"]
    credential = body["credential"]
    assert (credential["level"], credential["level_name"]) == (7, "特级技师")
    assert credential["number_format"] == "national-eight-level"
    recognition = body["recognition"]
    assert (recognition["mode"], recognition["rule"]) == ("mapped", "skill-l7-mapped-SC-CQ")
    assert recognition["equivalent"]["skill_level"] == 7
    assert recognition["equivalent"]["level_name"] == "特级技师"


@pytest.mark.parametrize(("level", "name"), [(6, "学徒工"), (8, "首席技师")])
async def test_the_other_new_levels_are_recognised_both_ways(
    hr_cq: httpx.AsyncClient, hr_sc: httpx.AsyncClient, make_credential: MakeCredential, level: int, name: str
) -> None:
    for region, caller, target in (("SC", hr_cq, "CQ"), ("CQ", hr_sc, "SC")):
        payload = await make_credential(skill_payload(region, level=level))
        body = await verify(caller, payload)
        assert body["outcome"] == "valid", body
        assert body["credential"]["level_name"] == name
        assert body["recognition"]["rule"] == f"skill-l{level}-mapped-{region}-{target}"
        assert body["recognition"]["equivalent"]["level_name"] == name


async def test_a_level_3_national_2020_record_verifies_as_before(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(skill_payload("SC", level=3))
    assert payload["number"][15] == "3"
    body = await verify(hr_cq, payload)
    assert body["outcome"] == "valid", body
    credential = body["credential"]
    assert (credential["level"], credential["level_name"], credential["number_format"]) == (
        3,
        "三级/高级工",
        "national-2020",
    )
    assert body["recognition"]["rule"] == "skill-l3-mapped-SC-CQ"
    assert body["recognition"]["equivalent"]["level_name"] == "三级/高级工"


async def test_a_legacy_number_verifies_whatever_its_unconfirmed_level_digit(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    for digit in ("2", "4"):  # the level digit agrees, or not: position 11 is unconfirmed, so not enforced
        made = await make_credential(skill_payload("SC", level=2, number=legacy_number(digit)))
        body = await verify(hr_cq, made)
        assert body["outcome"] == "valid", body
        assert body["credential"]["number_format"] == "legacy-qualification"


async def test_a_record_registered_before_the_level_digit_was_checked_still_verifies(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential, session: AsyncSession
) -> None:
    # Before issue 17 a legacy number's shape alone was checked: a record whose 11th digit disagrees with its
    # level may exist. Verification reads what is stored and does not re-judge the number.
    payload = await make_credential(skill_payload("SC", level=2, number=legacy_number("2")))
    await session.execute(
        update(Credential)
        .where(Credential.kind == "skill", Credential.number == payload["number"])
        .values(skill_level=4)
    )
    await session.commit()
    body = await verify(hr_cq, payload)
    assert body["outcome"] == "valid", body
    assert (body["credential"]["level"], body["credential"]["level_name"]) == (4, "四级/中级工")
    assert body["recognition"]["rule"] == "skill-l4-mapped-SC-CQ"
