"""Work permits in the registry: created, read back, listed, and one number per person for life."""

from __future__ import annotations

import copy

import httpx
import pytest

from tests.factories import permit_number, permit_payload, title_payload

PROBLEM = "application/problem+json"


async def test_a_permit_is_created_and_read_back_with_its_class_and_employer(
    client: httpx.AsyncClient,
) -> None:
    payload = permit_payload("SC", "A", number=" ".join(permit_number()))  # spaces are normalised away
    created = await client.post("/v1/credentials", json=payload)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["kind"] == "permit"
    assert (body["permit_class"], body["permit_class_name"]) == ("A", "外国高端人才（A类）")
    assert (body["employer_name"], body["employer_usci"]) == ("示例科技有限公司", payload["employer_usci"])
    assert body["holder"]["id_type"] == "passport"
    assert payload["holder"]["id_number"] not in created.text
    number = body["number"]
    assert len(number) == 18
    assert created.headers["location"] == f"/v1/credentials/permit/SC/{number}"
    fetched = await client.get(created.headers["location"])
    assert fetched.json() == body
    listed = await client.get("/v1/credentials", params={"kind": "permit", "region": "SC", "number": number})
    assert [item["number"] for item in listed.json()["items"]] == [number]
    history = await client.get(f"/v1/credentials/permit/SC/{number}/history")
    assert history.status_code == 200, history.text


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"number": "12345678901234567"}, "number", "permit.number_format"),
        ({"number": "12345678901234567X"}, "number", "permit.number_format"),
        ({"permit_class": "a"}, "permit_class", "string_pattern_mismatch"),
        ({"employer_usci": "91350100M000100Y4Z"}, "employer_usci", "usci.checksum"),
        ({"employer_name": " "}, "employer_name", "text.empty"),
    ],
)
async def test_a_bad_permit_field_is_a_422_naming_it(
    client: httpx.AsyncClient, change: dict[str, str], field: str, code: str
) -> None:
    answer = await client.post("/v1/credentials", json=permit_payload(**change))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in answer.json()["errors"]
    ]


async def test_a_permit_holder_identified_by_resident_id_is_refused(client: httpx.AsyncClient) -> None:
    payload = permit_payload()
    payload["holder"] = title_payload()["holder"]
    answer = await client.post("/v1/credentials", json=payload)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("holder.id_type", "permit.holder_id_type")]


async def test_an_unknown_permit_class_is_refused(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/credentials", json=permit_payload(permit_class="Z"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["code"] == "permit_class.unknown"


async def test_a_foreign_permanent_resident_may_hold_a_permit(client: httpx.AsyncClient) -> None:
    payload = permit_payload(permit_class="B")
    payload["holder"] = {
        "name": "ANNA LEE",
        "id_type": "foreign_permanent_resident",
        "id_number": "USA123456789012",
    }
    answer = await client.post("/v1/credentials", json=payload)
    assert answer.status_code == 201, answer.text


async def test_the_same_number_for_the_same_holder_in_the_other_region_is_allowed(
    client: httpx.AsyncClient,
) -> None:
    """An A-class holder moving region gets a permit there under the SAME number."""
    first = permit_payload("SC")
    assert (await client.post("/v1/credentials", json=first)).status_code == 201
    moved = permit_payload("CQ", number=first["number"], holder=first["holder"])
    answer = await client.post("/v1/credentials", json=moved)
    assert answer.status_code == 201, answer.text


async def test_a_number_of_another_holder_is_refused_in_every_region(client: httpx.AsyncClient) -> None:
    first = permit_payload("SC")
    assert (await client.post("/v1/credentials", json=first)).status_code == 201
    other = permit_payload("CQ", number=first["number"])
    answer = await client.post("/v1/credentials", json=other)
    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "permit.number_other_holder"
    assert answer.json()["errors"][0]["field"] == "number"


async def test_a_holder_with_a_permit_cannot_get_another_number(client: httpx.AsyncClient) -> None:
    first = permit_payload("SC")
    assert (await client.post("/v1/credentials", json=first)).status_code == 201
    for region in ("SC", "CQ"):
        again = permit_payload(region, holder=copy.deepcopy(first["holder"]))
        answer = await client.post("/v1/credentials", json=again)
        assert answer.status_code == 409, answer.text
        body = answer.json()
        assert body["code"] == "permit.holder_other_number"
        assert first["holder"]["id_number"] not in answer.text


async def test_a_mistyped_permit_is_cancelled_and_the_right_number_registered(
    client: httpx.AsyncClient,
) -> None:
    """A cancelled permit no longer binds its number to its holder, in either direction."""
    wrong = permit_payload("SC")
    assert (await client.post("/v1/credentials", json=wrong)).status_code == 201
    right = permit_payload("SC", holder=copy.deepcopy(wrong["holder"]))
    assert (await client.post("/v1/credentials", json=right)).status_code == 409  # while the wrong one stands
    cancel = {"status": "cancelled", "reason": "号码录入错误"}
    changed = await client.post(f"/v1/credentials/permit/SC/{wrong['number']}/status", json=cancel)
    assert changed.status_code == 200, changed.text
    assert (await client.post("/v1/credentials", json=right)).status_code == 201
    # And the mistyped number may now be registered for the person it really belongs to.
    owner = permit_payload("CQ", number=wrong["number"])
    assert (await client.post("/v1/credentials", json=owner)).status_code == 201


async def test_permits_are_listed_by_kind(client: httpx.AsyncClient) -> None:
    created = [
        (await client.post("/v1/credentials", json=permit_payload(permit_class=c))).json() for c in ("A", "C")
    ]
    listed = (await client.get("/v1/credentials", params={"kind": "permit", "limit": 100})).json()["items"]
    assert {c["number"] for c in created} <= {item["number"] for item in listed}
    assert {item["kind"] for item in listed} == {"permit"}
