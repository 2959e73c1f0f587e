"""The registry routes over HTTP: create, read, list, status changes, and every bad input refused."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Credential, Holder, Organisation, StatusChange
from tests.factories import card_payload, resident_id, skill_payload, title_payload, usci

PROBLEM = "application/problem+json"


async def count_rows(session: AsyncSession) -> tuple[int, ...]:
    counts = []
    for model in (Credential, Holder, Organisation, StatusChange):
        counts.append(await session.scalar(select(func.count()).select_from(model)) or 0)
    return tuple(counts)


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert {"title", "detail", "instance"} <= body.keys()
    return body


@pytest.mark.parametrize("make", [title_payload, skill_payload, card_payload])
async def test_create_then_get_masks_the_document_number(client: httpx.AsyncClient, make: Any) -> None:
    payload = make()
    created = await client.post("/v1/credentials", json=payload)
    assert created.status_code == 201, created.text
    body = created.json()
    id_number = payload["holder"]["id_number"]
    assert id_number not in created.text
    assert body["holder"]["id_number_masked"] == id_number[:6] + "*" * 8 + id_number[-4:]
    assert body["status"] == "active"
    assert body["version"] == 1
    location = created.headers["location"]
    assert location == f"/v1/credentials/{payload['kind']}/{payload['region']}/{payload['number']}"
    fetched = await client.get(location)
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert id_number not in fetched.text


async def test_title_answer_carries_the_code_table(client: httpx.AsyncClient) -> None:
    body = (await client.post("/v1/credentials", json=title_payload(title_code="0501"))).json()
    assert (body["title_name"], body["title_series"], body["title_level"]) == (
        "正高级工程师",
        "05",
        "senior_full",
    )


async def test_full_width_and_lower_case_id_numbers_are_normalised(client: httpx.AsyncClient) -> None:
    number = resident_id("SC")
    first = title_payload()
    first["holder"]["id_number"] = number.lower()
    assert (await client.post("/v1/credentials", json=first)).status_code == 201
    again = title_payload()
    again["holder"]["id_number"] = " ".join(number).translate(
        str.maketrans("0123456789X", "０１２３４５６７８９ｘ")
    )
    response = await client.post("/v1/credentials", json=again)
    assert response.status_code == 201, response.text  # same holder found again, same name


async def test_issuer_first_seen_defaults_to_city(client: httpx.AsyncClient) -> None:
    payload = title_payload()
    payload["issuer"] = {"name": "成都市职称改革工作领导小组办公室", "usci": usci("SC", 4242)}
    response = await client.post("/v1/credentials", json=payload)
    assert response.status_code == 201, response.text
    assert response.json()["issuer"]["level"] == "city"


async def test_duplicate_is_409_and_stores_nothing(client: httpx.AsyncClient, session: AsyncSession) -> None:
    payload = title_payload()
    assert (await client.post("/v1/credentials", json=payload)).status_code == 201
    before = await count_rows(session)
    assert_problem(await client.post("/v1/credentials", json=payload), 409, "conflict")
    assert await count_rows(session) == before


async def test_same_document_under_another_name_is_409(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    first = title_payload()
    assert (await client.post("/v1/credentials", json=first)).status_code == 201
    other = title_payload(holder={**first["holder"], "name": "李四"})
    before = await count_rows(session)
    body = assert_problem(await client.post("/v1/credentials", json=other), 409, "conflict")
    assert body["errors"][0]["code"] == "holder.name_mismatch"
    assert first["holder"]["id_number"] not in str(body)
    assert await count_rows(session) == before


def with_change(make: Any, path: str, value: Any) -> dict[str, Any]:
    payload: dict[str, Any] = copy.deepcopy(make())
    *parents, leaf = path.split(".")
    target = payload
    for part in parents:
        target = target[part]
    if value is DELETE:
        del target[leaf]
    else:
        target[leaf] = value
    return payload


DELETE = object()
BAD_INPUTS = [
    # (id, factory, dotted path, new value, field named in errors[], code)
    (
        "id-checksum",
        title_payload,
        "holder.id_number",
        "510104198201130014",
        "holder.id_number",
        "id_number.checksum",
    ),
    (
        "id-birth-date",
        title_payload,
        "holder.id_number",
        "510104198213300016",
        "holder.id_number",
        "id_number.birth_date",
    ),
    ("id-shape", title_payload, "holder.id_number", "51010419820113", "holder.id_number", "id_number.format"),
    ("unknown-top-field", title_payload, "is_admin", True, "is_admin", "extra_forbidden"),
    ("unknown-holder-field", title_payload, "holder.phone", "13800000000", "holder.phone", "extra_forbidden"),
    ("field-of-other-kind", title_payload, "card_class", "A", "card_class", "extra_forbidden"),
    ("usci-checksum", title_payload, "issuer.usci", "91350100M000100Y44", "issuer.usci", "usci.checksum"),
    ("issuer-level", title_payload, "issuer.level", "county", "issuer.level", "enum"),
    ("title-code-shape", title_payload, "title_code", "05X2", "title_code", "title_code.format"),
    ("title-code-unknown", title_payload, "title_code", "9999", "title_code", "title_code.unknown"),
    ("obtained-after-issued", title_payload, "obtained_on", "2023-01-01", "obtained_on", "date.order"),
    ("issued-in-future", title_payload, "issued_on", "2999-01-01", "issued_on", "date.future"),
    ("window-reversed", title_payload, "valid_until", "2000-01-01", "valid_until", "validity.window"),
    ("date-garbage", title_payload, "issued_on", "2022-02-30", "issued_on", "date_from_datetime_parsing"),
    ("region-shape", title_payload, "region", "sichuan", "region", "string_pattern_mismatch"),
    ("region-unknown", title_payload, "region", "GD", "region", "region.unknown"),
    ("kind-unknown", title_payload, "kind", "diploma", "kind", "union_tag_invalid"),
    ("name-empty", title_payload, "holder.name", "  ", "holder.name", "text.empty"),
    (
        "name-control-char",
        title_payload,
        "holder.name",
        "张\u0000三",
        "holder.name",
        "text.control_characters",
    ),
    ("number-too-long", title_payload, "number", "N" * 65, "number", "string_too_long"),
    ("id-type-unknown", title_payload, "holder.id_type", "driving_licence", "holder.id_type", "enum"),
    ("holder-missing", title_payload, "holder", DELETE, "holder", "missing"),
    ("skill-level-range", skill_payload, "level", 100, "level", "less_than_equal"),
    ("skill-level-zero", skill_payload, "level", 0, "level", "greater_than_equal"),
    ("skill-level-mismatch", skill_payload, "level", 2, "number", "skill_number.level_mismatch"),
    ("skill-number-shape", skill_payload, "number", "X123", "number", "skill_number.format"),
    (
        "occupation-shape",
        skill_payload,
        "occupation_code",
        "631-01-03",
        "occupation_code",
        "occupation_code.format",
    ),
    ("card-class-unknown", card_payload, "card_class", "Z9", "card_class", "card_class.unknown"),
    ("card-system-unknown", card_payload, "card_system", "gd-talent", "card_system", "card_system.unknown"),
    (
        "card-system-other-region",
        card_payload,
        "card_system",
        "sc-tianfu",
        "card_system",
        "card_system.region",
    ),
    (
        "entitlement-unknown",
        card_payload,
        "entitlements",
        ["no.such.service"],
        "entitlements.0",
        "entitlement.unknown",
    ),
]


@pytest.mark.parametrize(
    ("make", "path", "value", "field", "code"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
async def test_bad_input_is_named_and_nothing_is_stored(
    client: httpx.AsyncClient, session: AsyncSession, make: Any, path: str, value: Any, field: str, code: str
) -> None:
    payload = with_change(make, path, value)
    before = await count_rows(session)
    response = await client.post("/v1/credentials", json=payload)
    body = assert_problem(response, 422, "validation-error")
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in body["errors"]
    ], body
    holder = payload.get("holder")
    if isinstance(holder, dict) and len(str(holder.get("id_number", ""))) > 6:
        assert str(holder["id_number"]) not in response.text
    assert "Traceback" not in response.text
    assert await count_rows(session) == before


async def test_malformed_json_is_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/credentials", content=b'{"kind": "title",', headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "validation-error")


async def test_oversized_body_is_413_before_the_handler(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    before = await count_rows(session)
    payload = title_payload(specialty="x" * 70_000)
    assert_problem(await client.post("/v1/credentials", json=payload), 413, "payload-too-large")
    assert await count_rows(session) == before


async def test_oversized_chunked_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 8192

    response = await client.post(
        "/v1/credentials", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload-too-large")


async def test_unknown_credential_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/credentials/title/SC/NOPE-1"), 404, "not-found")
    assert_problem(await client.get("/v1/credentials/diploma/SC/NOPE-1"), 422, "validation-error")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/credentials"),
        ("POST", "/v1/credentials"),
        ("GET", "/v1/credentials/title/SC/1"),
        ("POST", "/v1/credentials/title/SC/1/status"),
    ],
)
async def test_registry_needs_the_token(anonymous: httpx.AsyncClient, method: str, path: str) -> None:
    response = await anonymous.request(method, path, json={})
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    wrong = await anonymous.request(method, path, json={}, headers={"Authorization": "Bearer nope"})
    assert_problem(wrong, 401, "unauthorized")


async def test_list_walks_every_page_once(client: httpx.AsyncClient) -> None:
    numbers = set()
    for _ in range(5):
        payload = skill_payload(region="CQ", level=4)
        numbers.add(payload["number"])
        assert (await client.post("/v1/credentials", json=payload)).status_code == 201
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"kind": "skill", "region": "CQ", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/credentials", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [item["number"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert numbers <= set(seen)
    assert len(seen) == len(set(seen))
    assert all(not n.startswith("S0000510") for n in seen)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"cursor": "!!notacursor"}, "cursor"),
        ({"cursor": "eyJhZnRlciI6IC0xfQ"}, "cursor"),
        ({"status": "lost"}, "status"),
        ({"kind": "x"}, "kind"),
    ],
)
async def test_list_rejects_bad_parameters(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    body = assert_problem(await client.get("/v1/credentials", params=params), 422, "validation-error")
    assert field in [e["field"] for e in body["errors"]]


async def test_list_filters_by_status(client: httpx.AsyncClient) -> None:
    payload = title_payload(region="CQ")
    await client.post("/v1/credentials", json=payload)
    path = f"/v1/credentials/title/CQ/{payload['number']}/status"
    assert (await client.post(path, json={"status": "suspended", "reason": "核查"})).status_code == 200
    page = (await client.get("/v1/credentials", params={"status": "suspended", "limit": 100})).json()
    assert payload["number"] in [item["number"] for item in page["items"]]
    assert all(item["status"] == "suspended" for item in page["items"])


async def listed(client: httpx.AsyncClient, status: str) -> dict[str, str]:
    """Every card of CQ listed under `status`, number -> the status its answer shows."""
    shown: dict[str, str] = {}
    params: dict[str, str | int] = {"kind": "card", "region": "CQ", "status": status, "limit": 100}
    while True:
        page = await client.get("/v1/credentials", params=params)
        assert page.status_code == 200, page.text
        shown.update({item["number"]: item["status"] for item in page.json()["items"]})
        if page.json()["next_cursor"] is None:
            return shown
        params["cursor"] = page.json()["next_cursor"]


async def test_status_filter_agrees_with_the_status_shown(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """A card stored active or suspended past its last valid day answers `expired`: it is filtered as expired
    too, never as active or suspended (one definition for filtering and showing)."""
    dates = {"issued_on": "2019-01-01", "valid_from": "2019-01-01", "valid_until": "2020-12-31"}
    lapsed, lapsed_suspended = card_payload(region="CQ", **dates), card_payload(region="CQ", **dates)
    current, open_ended = card_payload(region="CQ"), card_payload(region="CQ", valid_until=None)
    for payload in (lapsed, lapsed_suspended, current, open_ended):
        assert (await client.post("/v1/credentials", json=payload)).status_code == 201
    # Stored as suspended, as a suspension made before the card lapsed would have left it.
    await session.execute(
        update(Credential).where(Credential.number == lapsed_suspended["number"]).values(status="suspended")
    )
    by_status = {status: await listed(client, status) for status in ("active", "suspended", "expired")}
    for status, shown in by_status.items():
        assert set(shown.values()) <= {status}, (status, shown)
    assert {lapsed["number"], lapsed_suspended["number"]} <= by_status["expired"].keys()
    assert {current["number"], open_ended["number"]} <= by_status["active"].keys()
    assert lapsed["number"] not in by_status["active"]
    assert lapsed_suspended["number"] not in by_status["suspended"]


async def test_status_follows_the_state_machine(client: httpx.AsyncClient, session: AsyncSession) -> None:
    payload = card_payload()
    await client.post("/v1/credentials", json=payload)
    path = f"/v1/credentials/card/CQ/{payload['number']}/status"
    suspended = await client.post(path, json={"status": "suspended", "reason": "材料核查"})
    assert suspended.status_code == 200
    assert (suspended.json()["status"], suspended.json()["status_reason"]) == ("suspended", "材料核查")
    assert (await client.post(path, json={"status": "active", "reason": "暂扣发还"})).json()[
        "status"
    ] == "active"
    assert (await client.post(path, json={"status": "revoked", "reason": "撤销"})).json()[
        "status"
    ] == "revoked"
    before = await count_rows(session)
    for target in ("suspended", "active", "revoked"):
        body = assert_problem(
            await client.post(path, json={"status": target, "reason": "x"}), 409, "forbidden-transition"
        )
        assert body["current_status"] == "revoked"
    assert await count_rows(session) == before
    history = (await session.scalars(select(StatusChange.to_status).order_by(StatusChange.id))).all()
    assert history[-3:] == ["suspended", "active", "revoked"]


@pytest.mark.parametrize(
    "body",
    [
        {"status": "expired", "reason": "x"},
        {"status": "superseded", "reason": "x"},
        {"status": "suspended"},
        {"status": "suspended", "reason": "x", "by": "me"},
    ],
)
async def test_status_body_is_validated(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    payload = title_payload()
    await client.post("/v1/credentials", json=payload)
    response = await client.post(f"/v1/credentials/title/SC/{payload['number']}/status", json=body)
    assert_problem(response, 422, "validation-error")


async def test_expired_card_cannot_be_suspended(client: httpx.AsyncClient) -> None:
    payload = card_payload(valid_from="2019-01-01", valid_until="2022-01-01", issued_on="2019-01-01")
    created = await client.post("/v1/credentials", json=payload)
    assert created.json()["status"] == "expired"
    response = await client.post(
        f"/v1/credentials/card/CQ/{payload['number']}/status", json={"status": "suspended", "reason": "x"}
    )
    assert assert_problem(response, 409, "forbidden-transition")["current_status"] == "expired"


async def test_status_change_of_unknown_credential_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/credentials/title/SC/NOPE/status", json={"status": "revoked", "reason": "x"}
    )
    assert_problem(response, 404, "not-found")
