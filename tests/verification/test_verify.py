"""POST /v1/verify: every outcome, the checks, recognition in the caller's region, and no_match parity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Credential
from tests.factories import card_payload, resident_id, skill_payload, title_payload
from tests.verification.conftest import MakeCredential, ask

CHECK_IDS = [
    "format.number",
    "registry.match",
    "status.current",
    "validity.window",
    "issuer.trusted",
    "recognition.rule",
]


def checks_of(body: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    return {c["id"]: (c["passed"], c["code"]) for c in body["checks"]}


async def verify(caller: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    answer = await caller.post("/v1/verify", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_a_sichuan_senior_title_is_valid_and_recognised_directly_in_chongqing(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(title_payload("SC", title_code="0502"))
    answer = await hr_cq.post("/v1/verify", json=ask(payload))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "valid"
    assert [c["id"] for c in body["checks"]] == CHECK_IDS
    assert all(c["passed"] for c in body["checks"]), body["checks"]
    assert checks_of(body)["recognition.rule"] == (True, "recognition.direct")
    recognition = body["recognition"]
    assert recognition["target_region"] == "CQ"
    assert recognition["mode"] == "direct"
    assert recognition["rule"] == "title-senior-direct-SC-CQ"
    assert recognition["equivalent"]["title_name"] == "高级工程师"
    assert "川渝职称互认" in recognition["basis"]
    credential = body["credential"]
    assert credential["title_level"] == "senior_deputy"
    assert credential["holder"]["name_masked"] == "张*"
    id_number = payload["holder"]["id_number"]
    assert credential["holder"]["id_number_masked"] == id_number[:6] + "*" * 8 + id_number[-4:]
    assert id_number not in answer.text
    assert "张三" not in answer.text  # the caller gave the name; the answer shows it masked only
    assert body["successor"] is None
    assert body["receipt"].count(".") == 2


async def test_the_issuing_region_gets_no_recognition(
    hr_sc: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(title_payload("SC"))
    body = await verify(hr_sc, ask(payload))
    assert body["outcome"] == "valid"
    assert body["recognition"] is None
    assert checks_of(body)["recognition.rule"] == (True, "recognition.home_region")


@pytest.mark.parametrize(
    ("make", "caller", "mode", "expected"),
    [
        (
            lambda: title_payload("SC", title_code="0503"),
            "hr_cq",
            "delegated",
            {"recognised_by": ["city", "district"]},
        ),
        (
            lambda: skill_payload("SC", level=2),
            "hr_cq",
            "mapped",
            {"skill_level": 2, "level_name": "二级/技师"},
        ),
        (lambda: card_payload("CQ", card_class="A1"), "hr_sc", "reciprocal", {"card_class": "A"}),
    ],
)
async def test_each_recognition_mode(
    hr_cq: httpx.AsyncClient,
    hr_sc: httpx.AsyncClient,
    make_credential: MakeCredential,
    make: Any,
    caller: str,
    mode: str,
    expected: dict[str, Any],
) -> None:
    payload = await make_credential(make())
    body = await verify(hr_cq if caller == "hr_cq" else hr_sc, ask(payload))
    assert body["outcome"] == "valid", body
    assert body["recognition"]["mode"] == mode
    assert expected.items() <= body["recognition"]["equivalent"].items()
    if mode == "reciprocal":
        shared = body["recognition"]["equivalent"]["shared_services"]
        assert {"code": "hukou", "name": shared[0]["name"]} in shared
        assert all(s["name"] for s in shared)


@pytest.mark.parametrize("status", ["suspended", "revoked", "cancelled", "transferred"])
async def test_status_outcomes(
    client: httpx.AsyncClient, hr_cq: httpx.AsyncClient, make_credential: MakeCredential, status: str
) -> None:
    payload = await make_credential(title_payload("SC"))
    path = f"/v1/credentials/title/SC/{payload['number']}/status"
    changed = await client.post(path, json={"status": status, "reason": "test"})
    assert changed.status_code == 200, changed.text
    body = await verify(hr_cq, ask(payload))
    assert body["outcome"] == status
    assert body["credential"]["status"] == status
    assert checks_of(body)["status.current"] == (False, f"status.{status}")
    assert checks_of(body)["recognition.rule"] == (False, "recognition.not_valid")
    assert body["recognition"] is None


async def test_a_revocation_flips_the_next_answer(
    client: httpx.AsyncClient, hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(skill_payload("SC"))
    assert (await verify(hr_cq, ask(payload)))["outcome"] == "valid"
    path = f"/v1/credentials/skill/SC/{payload['number']}/status"
    assert (await client.post(path, json={"status": "revoked", "reason": "fraud"})).status_code == 200
    assert (await verify(hr_cq, ask(payload)))["outcome"] == "revoked"


async def test_a_card_past_its_window_is_expired(
    hr_sc: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(card_payload("CQ", valid_from="2020-01-01", valid_until="2023-01-01"))
    body = await verify(hr_sc, ask(payload))
    assert body["outcome"] == "expired"
    assert checks_of(body)["validity.window"] == (False, "validity.ended")
    assert checks_of(body)["status.current"] == (True, "status.active")


async def test_a_card_whose_window_has_not_started_is_not_valid(
    hr_sc: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    start = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    payload = await make_credential(card_payload("CQ", valid_from=start))
    body = await verify(hr_sc, ask(payload))
    assert body["outcome"] == "expired"
    assert checks_of(body)["validity.window"] == (False, "validity.not_started")


async def link_successor(
    session: AsyncSession, old: dict[str, Any], new: dict[str, Any], status: str
) -> None:
    old_id = await session.scalar(select(Credential.id).where(Credential.number == old["number"]))
    await session.execute(update(Credential).where(Credential.number == old["number"]).values(status=status))
    await session.execute(
        update(Credential).where(Credential.number == new["number"]).values(supersedes_id=old_id, version=2)
    )
    await session.commit()


@pytest.mark.parametrize("status", ["transferred", "superseded"])
async def test_transferred_and_superseded_link_to_the_successor(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential, session: AsyncSession, status: str
) -> None:
    old = await make_credential(title_payload("SC"))
    region = "CQ" if status == "transferred" else "SC"
    new = await make_credential(title_payload(region, holder=old["holder"]))
    await link_successor(session, old, new, status)
    body = await verify(hr_cq, ask(old))
    assert body["outcome"] == status
    assert body["successor"] == {
        "kind": "title",
        "region": region,
        "number": new["number"],
        "version": 2,
        "status": "active",
    }
    assert (await verify(hr_cq, ask(new)))["outcome"] == "valid"


async def test_the_id_number_is_a_second_factor(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(title_payload("SC"))
    right = payload["holder"]["id_number"]
    assert (await verify(hr_cq, ask(payload, id_number=right)))["outcome"] == "valid"
    # Written with full-width digits and spaces, as a clerk might paste it.
    pasted = " ".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in right)
    assert (await verify(hr_cq, ask(payload, id_number=pasted)))["outcome"] == "valid"
    other = resident_id("SC")
    assert (await verify(hr_cq, ask(payload, id_number=other)))["outcome"] == "no_match"


async def test_the_name_is_matched_after_normalisation(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(
        title_payload("SC", holder={**title_payload()["holder"], "name": "阿卜杜拉·买买提"})
    )
    assert (await verify(hr_cq, ask(payload, name=" 阿卜杜拉 • 买买提 ")))["outcome"] == "valid"
    assert (await verify(hr_cq, ask(payload, name="阿卜杜拉")))["outcome"] == "no_match"


def without_volatile(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("checked_at", "receipt")}


async def test_no_match_is_the_same_answer_for_an_unknown_number_and_a_wrong_holder(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(title_payload("SC"))
    wrong_name = await hr_cq.post("/v1/verify", json=ask(payload, name="李四"))
    wrong_id = await hr_cq.post("/v1/verify", json=ask(payload, id_number=resident_id("SC")))
    unknown = await hr_cq.post("/v1/verify", json=ask(payload, number=payload["number"] + "9"))
    unknown_same_ref = await hr_cq.post("/v1/verify", json=ask(payload, name="李四"))
    answers = [wrong_name, wrong_id, unknown, unknown_same_ref]
    assert {a.status_code for a in answers} == {200}
    assert {a.headers["content-type"] for a in answers} == {"application/json"}
    bodies = [without_volatile(a.json()) for a in answers]
    assert bodies[0] == bodies[1] == bodies[2] == bodies[3]
    assert bodies[0] == {
        "outcome": "no_match",
        "credential": None,
        "recognition": None,
        "successor": None,
        "checks": [
            {"id": "format.number", "passed": True, "code": "number.ok"},
            {"id": "registry.match", "passed": False, "code": "registry.no_match"},
        ],
        "answered_by": "http://testserver",
        "shortage": [],
    }
    assert len({len(a.content) for a in answers}) <= 2  # lengths differ only by the timestamp's digits


async def test_a_skill_number_of_no_known_scheme_is_no_match_without_a_look_up(
    hr_cq: httpx.AsyncClient,
) -> None:
    body = await verify(hr_cq, {"kind": "skill", "region": "SC", "number": "ABC-123", "name": "张三"})
    assert body["outcome"] == "no_match"
    assert checks_of(body)["format.number"] == (False, "number.unknown_format")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"kind": "diploma"}, "kind"),
        ({"region": "sichuan"}, "region"),
        ({"number": ""}, "number"),
        ({"name": "\u202e张三"}, "name"),
        ({"id_number": "510104199001011234"}, "id_number"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_bad_requests_are_422_naming_the_field_without_echoing_an_id(
    hr_cq: httpx.AsyncClient, override: dict[str, Any], field: str
) -> None:
    body = {"kind": "title", "region": "SC", "number": "T1", "name": "张三", **override}
    answer = await hr_cq.post("/v1/verify", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"] for e in answer.json()["errors"]}
    assert "510104199001011234" not in answer.text


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (
            b'{"kind": "title", "region": "SC", "number": "T1", "name": "510104199001011235"',
            "application/json",
            "json_invalid",
        ),
        (b"", "application/json", "missing"),
        (b'{"kind": "title"}', "text/plain", "content_type"),
        (b'{"kind": "title"}', None, "content_type"),
        (b"[1, 2]", "application/json; charset=utf-8", "model_type"),
        (b"\xef\xbb\xbf[1, 2]", "application/json", "model_type"),  # a UTF-8 BOM is read past
    ],
)
async def test_a_body_that_is_not_a_json_object_is_a_422_problem(
    hr_cq: httpx.AsyncClient, content: bytes, content_type: str | None, code: str
) -> None:
    # The verify routes read their bodies themselves (app/json_body.py): the same problem shape as elsewhere.
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/v1/verify", "/v1/verify/batch", "/v1/verify/card-token"):
        answer = await hr_cq.post(path, content=content, headers=headers)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [e["code"] for e in answer.json()["errors"]] == [code]
        assert "510104199001011235" not in answer.text


async def test_verify_needs_the_verify_scope(app: Any, anonymous: httpx.AsyncClient) -> None:
    from tests.conftest import bearer, mint_token

    body = {"kind": "title", "region": "SC", "number": "T1", "name": "张三"}
    assert (await anonymous.post("/v1/verify", json=body)).status_code == 401
    reader = bearer(mint_token(app, "test-reader", "registry:read"))
    assert (await anonymous.post("/v1/verify", json=body, headers=reader)).status_code == 403


async def test_no_match_answers_wait_for_the_floor_whatever_the_cause(
    app: Any, hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    import time

    payload = await make_credential(title_payload("SC"))
    app.services.verifier.no_match_floor = 0.3
    for body in (ask(payload, name="李四"), ask(payload, number="NOPE")):
        started = time.perf_counter()
        assert (await verify(hr_cq, body))["outcome"] == "no_match"
        assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    assert (await verify(hr_cq, ask(payload)))["outcome"] == "valid"
    assert time.perf_counter() - started < 0.3  # a match does not wait


async def test_a_batch_with_a_no_match_waits_for_the_floor_too(
    app: Any, hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    import time

    payload = await make_credential(title_payload("SC"))
    app.services.verifier.no_match_floor = 0.3
    started = time.perf_counter()
    answer = await hr_cq.post("/v1/verify/batch", json={"items": [ask(payload, name="李四")]})
    assert answer.json()["results"][0]["outcome"] == "no_match"
    assert time.perf_counter() - started >= 0.3


def test_the_answer_row_has_the_look_up_columns_in_order() -> None:
    # find_one builds AnswerRow positionally from either driver's row: names and order must agree.
    from app.verification.lookup import AnswerRow, select_candidates

    assert AnswerRow._fields == tuple(select_candidates().selected_columns.keys())
