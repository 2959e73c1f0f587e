"""`GET /v1/reference/{table}`: the code tables as data, without a token (API.md, "Reference data")."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ("regions", "code", {"SC", "CQ"}),
        ("skill-levels", "level", {1, 2, 3, 4, 5}),
        ("id-types", "code", {"resident_id", "passport", "foreign_permanent_resident"}),
        ("catalogue-editions", "code", {"2023", "2025"}),
    ],
)
async def test_a_table_is_answered_without_a_token(
    anonymous: httpx.AsyncClient, table: str, key: str, expected: set[object]
) -> None:
    answer = await anonymous.get(f"/v1/reference/{table}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["table"] == table
    assert expected <= {row[key] for row in body["items"]}
    assert answer.headers["cache-control"] == "public, max-age=300"


async def test_title_codes_name_their_series_and_level(anonymous: httpx.AsyncClient) -> None:
    series = {row["code"] for row in (await anonymous.get("/v1/reference/title-series")).json()["items"]}
    codes = (await anonymous.get("/v1/reference/title-codes")).json()["items"]
    assert codes
    assert codes == sorted(codes, key=lambda row: row["code"])
    assert all(row["series_code"] in series and row["level"] for row in codes)


async def test_card_systems_carry_their_classes_and_services(anonymous: httpx.AsyncClient) -> None:
    systems = (await anonymous.get("/v1/reference/card-systems")).json()["items"]
    assert {system["region"] for system in systems} == {"SC", "CQ"}
    assert all(system["classes"] for system in systems)
    assert any(system["services"] for system in systems)


async def test_an_unknown_table_is_a_422_naming_the_tables(anonymous: httpx.AsyncClient) -> None:
    answer = await anonymous.get("/v1/reference/holders")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
