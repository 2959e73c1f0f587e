"""GET /v1/catalogue (no token): filters, pages, refused filters; the editions as a reference table."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.catalogue.conftest import ImportCatalogue, entry

ROWS = [
    entry("测试岗位1", title_series="05", urgency="重度", region="SC"),
    entry("测试岗位2", title_series="05", urgency="中度", region="CQ"),
    entry("测试岗位3", title_series="04", urgency="轻度"),
    entry("测试岗位4", occupation_code="6-31-01-03", urgency="重度", cluster="测试集群乙"),
    entry("测试岗位5", occupation_code="4-04-05-01", urgency="中度", region="SC"),
]


async def posts(anonymous: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await anonymous.get("/v1/catalogue", params=params)
    assert response.status_code == 200, response.text
    return [item["post"] for item in response.json()["items"] if item["post"].startswith("测试岗位")]


async def test_filters(anonymous: httpx.AsyncClient, import_catalogue: ImportCatalogue) -> None:
    await import_catalogue(ROWS)
    assert await posts(anonymous, edition="2023", limit=100) == [f"测试岗位{i}" for i in range(1, 6)]
    # A region's posts include those listed for both regions.
    assert await posts(anonymous, region="SC", limit=100) == [
        "测试岗位1",
        "测试岗位3",
        "测试岗位4",
        "测试岗位5",
    ]
    assert await posts(anonymous, region="CQ", limit=100) == ["测试岗位2", "测试岗位3", "测试岗位4"]
    assert await posts(anonymous, urgency="severe") == ["测试岗位1", "测试岗位4"]
    assert await posts(anonymous, urgency="moderate", region="CQ") == ["测试岗位2"]
    assert await posts(anonymous, cluster="测试集群乙") == ["测试岗位4"]
    assert await posts(anonymous, title_series="04") == ["测试岗位3"]
    assert await posts(anonymous, occupation_code="4-04-05-01") == ["测试岗位5"]
    assert await posts(anonymous, edition="2025") == []
    item = (await anonymous.get("/v1/catalogue", params={"occupation_code": "6-31-01-03"})).json()["items"][0]
    assert item | {"id": 0} == {
        "id": 0,
        "edition": "2023",
        "cluster": "测试集群乙",
        "post": "测试岗位4",
        "title_series": None,
        "occupation_code": "6-31-01-03",
        "urgency": "severe",
        "urgency_zh": "重度",
        "region": None,
    }


async def test_pages_follow_the_cursor_to_the_end(
    anonymous: httpx.AsyncClient, import_catalogue: ImportCatalogue
) -> None:
    await import_catalogue(ROWS)
    seen: list[str] = []
    params: dict[str, Any] = {"edition": "2023", "limit": 2}
    pages = 0
    while True:
        page = (await anonymous.get("/v1/catalogue", params=params)).json()
        pages += 1
        seen += [item["post"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [f"测试岗位{i}" for i in range(1, 6)]
    assert pages == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"urgency": "urgent"}, "urgency"),
        ({"urgency": "重度"}, "urgency"),
        ({"region": "sc"}, "region"),
        ({"region": "GD"}, "region"),
        ({"edition": "1999"}, "edition"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJhZnRlciI6IC0xfQ"}, "cursor"),  # {"after": -1}
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"title_series": "5"}, "title_series"),
        ({"cluster": "\x00"}, "cluster"),  # PostgreSQL text holds no NUL: refused before any query
        ({"edition": "20\x0023"}, "edition"),
        ({"occupation_code": "6-31\x00"}, "occupation_code"),
    ],
)
async def test_bad_filters_are_refused_by_name(
    anonymous: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await anonymous.get("/v1/catalogue", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_the_editions_are_a_reference_table(
    anonymous: httpx.AsyncClient, import_catalogue: ImportCatalogue
) -> None:
    before = (await anonymous.get("/v1/reference/catalogue-editions")).json()["items"]
    await import_catalogue(ROWS)
    response = await anonymous.get("/v1/reference/catalogue-editions")
    assert response.status_code == 200
    editions = {e["code"]: e for e in response.json()["items"]}
    first = editions["2023"]
    assert (first["clusters_published"], first["posts_published"]) == (10, 1458)
    assert (first["severe_published"], first["moderate_published"], first["mild_published"]) == (
        345,
        589,
        524,
    )
    assert first["severe_published"] + first["moderate_published"] + first["mild_published"] == 1458
    assert first["current"] is True
    imported_before = {e["code"]: e["entries_imported"] for e in before}
    assert first["entries_imported"] == imported_before["2023"] + len(ROWS)
    assert editions["2025"]["name"].endswith("人才需求目录")
    assert editions["2025"]["confirmed"] is False
    assert editions["2025"]["current"] is False
