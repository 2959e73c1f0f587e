"""`GET /v1/reference/{table}`: the code tables as data, without a token (API.md, "Reference data")."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ("regions", "code", {"SC", "CQ"}),
        ("skill-levels", "level", {1, 2, 3, 4, 5, 6, 7, 8}),
        ("skill-number-formats", "code", {"national-2020", "national-eight-level", "legacy-qualification"}),
        ("id-types", "code", {"resident_id", "passport", "foreign_permanent_resident"}),
        ("permit-classes", "code", {"A", "B", "C"}),
        ("areas", "code", {"gaozhu"}),
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


async def test_permit_classes_carry_their_points_and_areas_their_divisions(
    anonymous: httpx.AsyncClient,
) -> None:
    classes = (await anonymous.get("/v1/reference/permit-classes")).json()["items"]
    assert [(row["code"], row["min_points"]) for row in classes] == [("A", 85), ("B", 60), ("C", None)]
    areas = (await anonymous.get("/v1/reference/areas")).json()["items"]
    gaozhu = next(row for row in areas if row["code"] == "gaozhu")
    assert gaozhu["name"] == "川渝高竹新区"
    assert {part["region"] for part in gaozhu["parts"]} == {"SC", "CQ"}


async def test_skill_levels_carry_their_rank(anonymous: httpx.AsyncClient) -> None:
    levels = (await anonymous.get("/v1/reference/skill-levels")).json()["items"]
    assert [row["level"] for row in levels] == sorted(row["level"] for row in levels)  # key order
    by_rank = [row["name"] for row in sorted(levels, key=lambda row: row["rank"])]
    assert by_rank == [
        "学徒工",
        "五级/初级工",
        "四级/中级工",
        "三级/高级工",
        "二级/技师",
        "一级/高级技师",
        "特级技师",
        "首席技师",
    ]
    by_level = {row["level"]: row for row in levels}
    assert (by_level[3]["scheme"], by_level[3]["confirmed"]) == ("five-level", True)
    assert (by_level[7]["scheme"], by_level[7]["confirmed"]) == ("eight-level", False)
    assert by_level[7]["note"]


async def test_skill_number_formats_say_where_the_level_is_and_what_is_unconfirmed(
    anonymous: httpx.AsyncClient,
) -> None:
    formats = (await anonymous.get("/v1/reference/skill-number-formats")).json()["items"]
    by_code = {row["code"]: row for row in formats}
    assert [row["code"] for row in formats] == [
        "national-2020",
        "national-eight-level",
        "legacy-qualification",
    ]
    national = by_code["national-2020"]
    assert (national["pattern"], national["level_position"], national["confirmed"]) == (
        "^[SY][0-9]{21}$",
        16,
        True,
    )
    assert national["level_characters"] == {str(n): n for n in range(1, 6)}
    assert (national["province_position"], national["issue_year_position"]) == (6, 14)
    legacy = by_code["legacy-qualification"]
    assert (legacy["level_position"], legacy["confirmed"]) == (11, False)
    variant = by_code["national-eight-level"]
    assert variant["level_characters"] == {"6": 6, "7": 7, "8": 8}
    assert not variant["confirmed"]
    assert "assumed" in variant["note"]


@pytest.mark.parametrize(
    ("table", "code", "confirmed"),
    [
        ("areas", "gaozhu", False),
        ("permit-classes", "A", True),
        ("title-codes", "0102", True),
        ("card-systems", "cq-xinchongqing", False),
    ],
)
async def test_every_table_says_what_is_confirmed(
    anonymous: httpx.AsyncClient, table: str, code: str, confirmed: bool
) -> None:
    """An integrator sees which facts were found in a source, in every table (from the seed files)."""
    items = (await anonymous.get(f"/v1/reference/{table}")).json()["items"]
    row = next(item for item in items if item["code"] == code)
    assert row["confirmed"] is confirmed
    if table == "card-systems":
        assert all(part["confirmed"] is False for part in row["classes"] + row["services"])
