"""Batches, receipts checked with nothing but the published JWKS, the audit trail and the rate limits."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import verify_chain
from app.clients.service import create_client
from app.models import AuditEvent
from app.services import HurenApp
from tests.conftest import bearer, mint_token
from tests.factories import card_payload, skill_payload, title_payload
from tests.verification.conftest import MakeCredential, ask


async def test_a_batch_answers_in_order(hr_cq: httpx.AsyncClient, make_credential: MakeCredential) -> None:
    valid = await make_credential(title_payload("SC"))
    skill = await make_credential(skill_payload("SC", level=4))
    card = await make_credential(card_payload("CQ"))
    items = [
        ask(skill),
        ask(valid, name="李四"),
        ask(card),
        ask(valid),
        ask(valid, number="NOPE"),
        ask(skill),
    ]
    answer = await hr_cq.post("/v1/verify/batch", json={"items": items})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["outcome"] for r in results] == ["valid", "no_match", "valid", "valid", "no_match", "valid"]
    assert [r["credential"]["number"] if r["credential"] else None for r in results] == [
        skill["number"],
        None,
        card["number"],
        valid["number"],
        None,
        skill["number"],
    ]
    assert results[1]["checks"] == results[4]["checks"]
    assert results[2]["recognition"] is None  # a CQ card asked about by a CQ caller
    assert results[0]["recognition"]["mode"] == "mapped"
    assert len({r["receipt"] for r in results}) == len(results)


@pytest.mark.parametrize("count", [0, 1001])
async def test_a_batch_holds_1_to_1000_items(hr_cq: httpx.AsyncClient, count: int) -> None:
    item = {"kind": "title", "region": "SC", "number": "T1", "name": "张三"}
    answer = await hr_cq.post("/v1/verify/batch", json={"items": [item] * count})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "items"


async def test_a_bad_item_names_its_index(hr_cq: httpx.AsyncClient) -> None:
    good = {"kind": "title", "region": "SC", "number": "T1", "name": "张三"}
    answer = await hr_cq.post("/v1/verify/batch", json={"items": [good, {**good, "region": "x"}]})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "items.1.region"


async def test_the_full_batch_of_1000(hr_cq: httpx.AsyncClient, make_credential: MakeCredential) -> None:
    payload = await make_credential(title_payload("SC"))
    items = [ask(payload) if i % 2 else ask(payload, number=f"X{i}") for i in range(1000)]
    answer = await hr_cq.post("/v1/verify/batch", json={"items": items})
    assert answer.status_code == 200, answer.text
    outcomes = [r["outcome"] for r in answer.json()["results"]]
    assert outcomes == ["no_match", "valid"] * 500


async def test_a_receipt_verifies_with_nothing_but_the_published_jwks(
    anonymous: httpx.AsyncClient, hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(title_payload("SC"))
    body = (await hr_cq.post("/v1/verify", json=ask(payload))).json()
    jwks = (await anonymous.get("/.well-known/jwks.json")).json()
    # What a third party does offline: pick the key by kid from the JWKS, check alg, typ, iss, aud and exp.
    header = jwt.get_unverified_header(body["receipt"])
    assert header["typ"] == "huren-receipt+jwt"
    assert header["alg"] == "ES256"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        body["receipt"],
        jwt.PyJWK(key).key,
        algorithms=["ES256"],
        audience="test-hr-cq",
        issuer="http://testserver",
        options={"require": ["exp", "iat", "jti", "iss", "aud"]},
    )
    reference = f"title|SC|{payload['number']}".encode()
    assert claims["ref"] == hashlib.sha256(reference).hexdigest()
    assert claims["outcome"] == "valid"
    assert claims["caller_region"] == "CQ"
    assert claims["recognition"] == "direct"
    assert claims["version"] == 1
    # No personal data in the receipt.
    decoded = json.dumps(claims, ensure_ascii=False)
    assert payload["holder"]["id_number"] not in decoded
    assert payload["holder"]["name"] not in decoded


async def test_a_receipt_does_not_pass_as_an_access_token(
    anonymous: httpx.AsyncClient, hr_cq: httpx.AsyncClient, make_credential: MakeCredential
) -> None:
    payload = await make_credential(title_payload("SC"))
    receipt = (await hr_cq.post("/v1/verify", json=ask(payload))).json()["receipt"]
    refused = await anonymous.post("/v1/verify", json=ask(payload), headers=bearer(receipt))
    assert refused.status_code == 401


async def test_each_verification_leaves_one_audit_event_without_personal_data(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential, session: AsyncSession
) -> None:
    payload = await make_credential(title_payload("SC"))
    before = await session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    await hr_cq.post("/v1/verify", json=ask(payload))
    await hr_cq.post("/v1/verify", json=ask(payload, name="李四"))
    await hr_cq.post("/v1/verify/batch", json={"items": [ask(payload), ask(payload, number="NOPE")]})
    events = (
        await session.scalars(select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq))
    ).all()
    assert [(e.action, e.outcome, e.client_id) for e in events] == [
        ("credential.verified", "valid", "test-hr-cq"),
        ("credential.verified", "no_match", "test-hr-cq"),
        ("credential.verified", "valid", "test-hr-cq"),
        ("credential.verified", "no_match", "test-hr-cq"),
    ]
    reference = hashlib.sha256(f"title|SC|{payload['number']}".encode()).hexdigest()
    assert events[0].object_ref == f"ref:{reference}"
    text = json.dumps([[e.object_ref, e.details] for e in events], ensure_ascii=False)
    assert payload["number"] not in text
    assert payload["holder"]["name"] not in text
    assert (await verify_chain(session)).intact


@pytest.mark.usefixtures("frozen_window")
async def test_verify_is_rate_limited_per_client_and_a_batch_counts_its_items(
    anonymous: httpx.AsyncClient, app: HurenApp, session: AsyncSession
) -> None:
    await create_client(
        session, name="slow", region="CQ", scopes="verify", client_id="cq-slow", rate_limit_per_minute=5
    )
    await session.commit()
    headers = bearer(mint_token(app, "cq-slow", "verify", region="CQ"))
    item: dict[str, Any] = {"kind": "title", "region": "SC", "number": "T1", "name": "张三"}
    batch = await anonymous.post("/v1/verify/batch", json={"items": [item] * 4}, headers=headers)
    assert batch.status_code == 200
    assert (await anonymous.post("/v1/verify", json=item, headers=headers)).status_code == 200
    refused = await anonymous.post("/v1/verify", json=item, headers=headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    too_big = await anonymous.post("/v1/verify/batch", json={"items": [item] * 2}, headers=headers)
    assert too_big.status_code == 429


@pytest.mark.usefixtures("frozen_window")
async def test_verify_is_rate_limited_per_source_address(app: HurenApp, hr_cq: httpx.AsyncClient) -> None:
    app.services.settings = app.services.settings.model_copy(update={"rate_limit_per_address_per_minute": 2})
    item = {"kind": "title", "region": "SC", "number": "T1", "name": "张三"}
    assert (await hr_cq.post("/v1/verify", json=item)).status_code == 200
    assert (await hr_cq.post("/v1/verify", json=item)).status_code == 200
    assert (await hr_cq.post("/v1/verify", json=item)).status_code == 429
