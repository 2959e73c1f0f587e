"""Recognition rules are data an admin changes over HTTP; verification follows the change at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.domain.calendar import china_today
from tests.factories import title_payload
from tests.verification.conftest import MakeCredential, ask

RULES = "/v1/admin/recognition-rules"


def rule(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "title",
        "source_region": "SC",
        "target_region": "CQ",
        "mode": "mapped",
        "criteria": {"title_codes": ["0502"]},
        "equivalent": {"title_name": "高级工程师（重庆确认）"},
        "basis": "测试文件",
        "effective_from": "2020-01-01",
        "priority": 1,
    }
    body.update(overrides)
    return body


async def test_the_shipped_rules_are_listed(client: httpx.AsyncClient) -> None:
    listed = await client.get(RULES)
    assert listed.status_code == 200
    codes = {r["code"] for r in listed.json()["items"]}
    assert {"title-senior-direct-SC-CQ", "card-cq-A1A2-reciprocal-CQ-SC"} <= codes


async def test_a_new_rule_applies_to_the_next_verification(
    client: httpx.AsyncClient, hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(title_payload("SC", title_code="0502"))
    before = (await hr_cq.post("/v1/verify", json=ask(payload))).json()
    assert before["recognition"]["mode"] == "direct"
    saved = await client.put(f"{RULES}/sc-0502-mapped", json=rule())
    assert saved.status_code == 200, saved.text
    after = (await hr_cq.post("/v1/verify", json=ask(payload))).json()
    assert after["recognition"]["mode"] == "mapped"
    assert after["recognition"]["rule"] == "sc-0502-mapped"
    assert after["recognition"]["equivalent"]["title_name"] == "高级工程师（重庆确认）"


async def test_a_rule_takes_effect_on_its_date(
    client: httpx.AsyncClient, hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(title_payload("SC", title_code="0502"))
    tomorrow = (china_today() + timedelta(days=1)).isoformat()
    saved = await client.put(f"{RULES}/sc-0502-later", json=rule(effective_from=tomorrow))
    assert saved.status_code == 200
    answer = (await hr_cq.post("/v1/verify", json=ask(payload))).json()
    assert answer["recognition"]["mode"] == "direct"


async def test_a_rule_can_be_ended(
    client: httpx.AsyncClient, hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    listed = (await client.get(RULES)).json()["items"]
    direct = next(r for r in listed if r["code"] == "title-senior-direct-SC-CQ")
    yesterday = (china_today() - timedelta(days=1)).isoformat()
    ended = {**{k: v for k, v in direct.items() if k != "code"}, "effective_until": yesterday}
    assert (await client.put(f"{RULES}/title-senior-direct-SC-CQ", json=ended)).status_code == 200
    payload = await make_credential(title_payload("SC", title_code="0502"))
    answer = (await hr_cq.post("/v1/verify", json=ask(payload))).json()
    assert answer["outcome"] == "valid"
    assert answer["recognition"] is None
    assert answer["checks"][-1] == {"id": "recognition.rule", "passed": False, "code": "recognition.no_rule"}


@pytest.mark.parametrize(("ends_in_days", "winner"), [(0, "sc-0502-successor"), (1, "sc-0502-ending")])
async def test_on_a_change_date_only_the_successor_applies(
    client: httpx.AsyncClient,
    hr_cq: httpx.AsyncClient,
    make_credential: MakeCredential,
    ends_in_days: int,
    winner: str,
) -> None:
    """A rule ended on D and its successor from D: on D the successor alone applies, the day before the old
    rule alone (same priority and criteria, so a day in both windows would be a tie broken by code)."""
    change = (china_today() + timedelta(days=ends_in_days)).isoformat()
    ending = rule(effective_until=change, equivalent={"title_name": "旧规则"})
    successor = rule(effective_from=change, equivalent={"title_name": "新规则"})
    assert (await client.put(f"{RULES}/sc-0502-ending", json=ending)).status_code == 200
    assert (await client.put(f"{RULES}/sc-0502-successor", json=successor)).status_code == 200
    payload = await make_credential(title_payload("SC", title_code="0502"))
    answer = (await hr_cq.post("/v1/verify", json=ask(payload))).json()
    assert answer["recognition"]["rule"] == winner


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"criteria": {"holder_name": ["张三"]}}, "rule.criteria_unknown"),
        ({"criteria": {"title_levels": []}}, "rule.criteria_type"),
        ({"target_region": "SC"}, "rule.regions"),
        ({"effective_until": "2019-01-01"}, "rule.dates"),
        ({"effective_until": "2020-01-01"}, "rule.dates"),  # [from, from) holds no day
        ({"mode": "automatic"}, "literal_error"),
    ],
)
async def test_a_rule_the_engine_cannot_apply_is_refused(
    client: httpx.AsyncClient, override: dict[str, Any], code: str
) -> None:
    answer = await client.put(f"{RULES}/bad", json=rule(**override))
    assert answer.status_code == 422, answer.text
    assert code in {e["code"] for e in answer.json()["errors"]}
    assert all(r["code"] != "bad" for r in (await client.get(RULES)).json()["items"])


async def test_an_unknown_region_is_refused(client: httpx.AsyncClient) -> None:
    answer = await client.put(f"{RULES}/far", json=rule(target_region="GD"))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "target_region"


async def test_rules_are_for_admins(hr_cq: httpx.AsyncClient) -> None:
    assert (await hr_cq.get(RULES)).status_code == 403
    assert (await hr_cq.put(f"{RULES}/x", json=rule())).status_code == 403
