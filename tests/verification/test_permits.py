"""Verifying work permits: the permit answer, and recognition by class and by the area the employer is in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import permit_payload
from tests.verification.conftest import MakeCredential, ask

RULES = "/v1/admin/recognition-rules"


def recognition_code(answer: dict[str, Any]) -> str:
    return str(next(c["code"] for c in answer["checks"] if c["id"] == "recognition.rule"))


async def test_an_a_class_permit_of_sichuan_is_recognised_directly_in_chongqing(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(permit_payload("SC", "A"))
    holder = payload["holder"]
    answer = await hr_cq.post(
        "/v1/verify", json=ask(payload, id_type="passport", id_number=holder["id_number"])
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "valid"
    credential = body["credential"]
    assert credential["kind"] == "permit"
    assert (credential["permit_class"], credential["employer_name"]) == ("A", "示例科技有限公司")
    assert credential["holder"]["name_masked"] != payload["holder"]["name"]
    assert payload["holder"]["id_number"] not in answer.text
    assert body["recognition"]["mode"] == "direct"
    assert body["recognition"]["equivalent"]["new_permit_max_years"] == 5
    assert body["recognition"]["equivalent"]["fewer_documents"] is True
    assert recognition_code(body) == "recognition.direct"


@pytest.mark.parametrize(("area", "recognised"), [(None, False), ("gaozhu", True)])
async def test_a_b_class_permit_is_recognised_only_in_the_pilot_area(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential, area: str | None, recognised: bool
) -> None:
    payload = await make_credential(permit_payload("SC", "B"))
    body = (await hr_cq.post("/v1/verify", json=ask(payload, target_area=area))).json()
    assert body["outcome"] == "valid"
    if recognised:
        assert body["recognition"]["rule"] == "permit-B-gaozhu-pilot-SC-CQ"
    else:
        assert body["recognition"] is None
        assert recognition_code(body) == "recognition.no_rule"


async def test_a_c_class_permit_is_not_recognised_even_in_the_pilot_area(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(permit_payload("SC", "C"))
    for area in (None, "gaozhu"):
        body = (await hr_cq.post("/v1/verify", json=ask(payload, target_area=area))).json()
        assert (body["outcome"], body["recognition"]) == ("valid", None)
        assert recognition_code(body) == "recognition.no_rule"


async def test_an_unknown_area_is_a_422(hr_cq: httpx.AsyncClient, make_credential: MakeCredential) -> None:
    payload = await make_credential(permit_payload("SC", "B"))
    single = await hr_cq.post("/v1/verify", json=ask(payload, target_area="nowhere"))
    assert single.status_code == 422, single.text
    assert single.json()["errors"][0] == {
        "field": "target_area",
        "location": "body",
        "code": "area.unknown",
        "message": "no such area",
    }
    batch = await hr_cq.post(
        "/v1/verify/batch", json={"items": [ask(payload), ask(payload, target_area="nowhere")]}
    )
    assert batch.status_code == 422, batch.text
    assert batch.json()["errors"][0]["field"] == "items.1.target_area"


async def test_a_batch_recognises_each_item_for_its_own_area(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    a_class = await make_credential(permit_payload("SC", "A"))
    b_class = await make_credential(permit_payload("SC", "B"))
    items = [ask(a_class), ask(b_class), ask(b_class, target_area="gaozhu")]
    results = (await hr_cq.post("/v1/verify/batch", json={"items": items})).json()["results"]
    assert [r["outcome"] for r in results] == ["valid"] * 3
    assert [r["recognition"] and r["recognition"]["rule"] for r in results] == [
        "permit-A-direct-SC-CQ",
        None,
        "permit-B-gaozhu-pilot-SC-CQ",
    ]


async def test_a_rule_saved_with_an_area_applies_only_there(
    client: httpx.AsyncClient, hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    rule = {
        "kind": "permit",
        "source_region": "SC",
        "target_region": "CQ",
        "target_area": "gaozhu",
        "mode": "direct",
        "criteria": {"permit_classes": ["C"]},
        "equivalent": {"permit_class": "C"},
        "basis": "测试文件",
        "effective_from": "2020-01-01",
    }
    unknown = await client.put(f"{RULES}/permit-C-test", json={**rule, "target_area": "nowhere"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["code"] == "area.unknown"
    saved = await client.put(f"{RULES}/permit-C-test", json=rule)
    assert saved.status_code == 200, saved.text
    assert saved.json()["target_area"] == "gaozhu"
    listed = {r["code"]: r for r in (await client.get(RULES)).json()["items"]}
    assert listed["permit-C-test"]["target_area"] == "gaozhu"
    assert listed["permit-A-direct-SC-CQ"]["target_area"] is None
    payload = await make_credential(permit_payload("SC", "C"))
    outside = (await hr_cq.post("/v1/verify", json=ask(payload))).json()
    inside = (await hr_cq.post("/v1/verify", json=ask(payload, target_area="gaozhu"))).json()
    assert outside["recognition"] is None
    assert inside["recognition"]["rule"] == "permit-C-test"


async def test_a_permit_number_is_matched_in_any_spelling_and_a_malformed_one_never_looked_up(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(permit_payload("SC", "A"))
    spaced = " ".join(payload["number"][i : i + 6] for i in range(0, 18, 6))
    body = (await hr_cq.post("/v1/verify", json=ask(payload, number=spaced))).json()
    assert body["outcome"] == "valid"
    short = (await hr_cq.post("/v1/verify", json=ask(payload, number=payload["number"][:17]))).json()
    assert short["outcome"] == "no_match"
    assert {"id": "format.number", "passed": False, "code": "number.unknown_format"} in short["checks"]
