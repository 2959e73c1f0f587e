"""Card tokens, QR codes, status lists and POST /v1/verify/card-token, end to end over HTTP."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.cards.offline import verify_card_token
from app.cards.status_list import MIN_ENTRIES, Bitstring
from app.cards.tokens import CARD_AUDIENCE
from app.cards.vc_jose import verify_vc_jwt
from app.keys import rotate_signing_key
from app.privacy import decode_key
from app.security import CARD_TOKEN, encode_token
from app.services import HurenApp
from tests.conftest import bearer, mint_token
from tests.factories import card_payload

ISSUER = "http://testserver"


async def make_card(client: httpx.AsyncClient, region: str = "CQ", **overrides: Any) -> dict[str, Any]:
    payload = card_payload(region, **overrides)
    created = await client.post("/v1/credentials", json=payload)
    assert created.status_code == 201, created.text
    return payload


async def issue(client: httpx.AsyncClient, card: dict[str, Any]) -> str:
    answer = await client.post(f"/v1/cards/{card['region']}/{card['number']}/token")
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


async def set_status(client: httpx.AsyncClient, card: dict[str, Any], status: str) -> None:
    path = f"/v1/credentials/card/{card['region']}/{card['number']}/status"
    changed = await client.post(path, json={"status": status, "reason": "test"})
    assert changed.status_code == 200, changed.text


async def check(caller: httpx.AsyncClient, token: str) -> dict[str, Any]:
    answer = await caller.post("/v1/verify/card-token", json={"token": token})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture
async def counter_sc(app: HurenApp) -> Any:
    """A Sichuan counter checking Chongqing cards."""
    token = mint_token(app, "test-admin", "verify", region="SC")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=ISSUER, headers=bearer(token)
    ) as client:
        yield client


async def test_a_card_token_is_short_signed_and_holds_no_personal_number(client: httpx.AsyncClient) -> None:
    card = await make_card(client)
    token = await issue(client, card)
    assert len(token) < 1200
    header = jwt.get_unverified_header(token)
    assert (header["typ"], header["alg"]) == ("huren-card+jwt", "ES256")
    claims = claims_of(token)
    assert claims["cn"] == card["number"]
    assert (claims["rg"], claims["cs"], claims["cc"]) == ("CQ", "cq-yingcai", "A1")
    assert claims["nm"] == "张*"
    assert claims["aud"] == CARD_AUDIENCE
    assert claims["st"]["r"] == f"{ISSUER}/v1/status-lists/CQ/revocation"
    assert 0 <= claims["st"]["i"] < MIN_ENTRIES
    assert card["holder"]["id_number"] not in json.dumps(claims)
    # The token ends with the card's last valid day, at the latest.
    assert claims["exp"] <= datetime(2100, 1, 1, tzinfo=UTC).timestamp()


async def test_each_card_keeps_one_index_and_no_two_cards_share_one(client: httpx.AsyncClient) -> None:
    cards = [await make_card(client) for _ in range(12)]
    first = [claims_of(await issue(client, c))["st"]["i"] for c in cards]
    again = [claims_of(await issue(client, c))["st"]["i"] for c in cards]
    assert first == again
    assert len(set(first)) == len(first)


async def test_the_qr_code_is_a_png(client: httpx.AsyncClient) -> None:
    card = await make_card(client)
    answer = await client.get(f"/v1/cards/CQ/{card['number']}/qr.png")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert answer.headers["cache-control"] == "no-store"


async def test_no_token_for_a_revoked_or_unknown_card(client: httpx.AsyncClient) -> None:
    card = await make_card(client)
    await set_status(client, card, "revoked")
    refused = await client.post(f"/v1/cards/CQ/{card['number']}/token")
    assert refused.status_code == 409
    assert (await client.post("/v1/cards/CQ/NOPE/token")).status_code == 404


async def test_tokens_need_the_cards_issue_scope(app: HurenApp, anonymous: httpx.AsyncClient) -> None:
    reader = bearer(mint_token(app, "test-reader", "registry:read"))
    assert (await anonymous.post("/v1/cards/CQ/X/token", headers=reader)).status_code == 403


async def fetch_list(
    anonymous: httpx.AsyncClient, region: str, purpose: str
) -> tuple[Bitstring, httpx.Response]:
    answer = await anonymous.get(f"/v1/status-lists/{region}/{purpose}")
    assert answer.status_code == 200, answer.text
    jwks = (await anonymous.get("/.well-known/jwks.json")).json()
    credential = verify_vc_jwt(answer.text, jwks)
    subject = credential["credentialSubject"]
    assert subject["statusPurpose"] == purpose
    assert subject["type"] == "BitstringStatusList"
    return Bitstring.decode(subject["encodedList"]), answer


async def test_the_status_lists_are_signed_w3c_lists_that_follow_status_changes(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    revoked, suspended, untouched = [await make_card(client) for _ in range(3)]
    index = {}
    for name, card in (("revoked", revoked), ("suspended", suspended), ("untouched", untouched)):
        index[name] = claims_of(await issue(client, card))["st"]["i"]
    before, answer = await fetch_list(anonymous, "CQ", "revocation")
    assert answer.headers["content-type"].startswith("application/vc+jwt")
    assert answer.headers["cache-control"] == "public, max-age=300"
    assert before.size >= MIN_ENTRIES
    assert not before.get(index["revoked"])
    not_modified = await anonymous.get(
        "/v1/status-lists/CQ/revocation", headers={"If-None-Match": answer.headers["etag"]}
    )
    assert not_modified.status_code == 304
    await set_status(client, revoked, "revoked")
    await set_status(client, suspended, "suspended")
    revocation, _ = await fetch_list(anonymous, "CQ", "revocation")
    suspension, _ = await fetch_list(anonymous, "CQ", "suspension")
    assert revocation.get(index["revoked"])
    assert not revocation.get(index["suspended"])
    assert suspension.get(index["suspended"])
    assert not suspension.get(index["untouched"])
    assert not revocation.get(index["untouched"])


async def test_status_lists_are_public_but_only_for_held_regions(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/v1/status-lists/GD/revocation")).status_code == 404
    assert (await anonymous.get("/v1/status-lists/CQ/other")).status_code == 422


async def test_card_token_outcomes_and_reciprocal_recognition(
    client: httpx.AsyncClient, counter_sc: httpx.AsyncClient
) -> None:
    card = await make_card(client, card_class="A1")
    token = await issue(client, card)
    body = await check(counter_sc, token)
    assert body["outcome"] == "valid"
    assert body["credential"]["holder"]["name_masked"] == "张*"
    assert body["credential"]["card_class_name"] == "A卡Ⅰ类"
    assert body["recognition"]["mode"] == "reciprocal"
    assert body["recognition"]["equivalent"]["card_class"] == "A"
    names = [s["name"] for s in body["recognition"]["equivalent"]["shared_services"]]
    assert names
    assert body["status_list_age_seconds"] >= 0
    assert [c["id"] for c in body["checks"]][:4] == [
        "token.signature",
        "token.expiry",
        "status.list",
        "validity.window",
    ]
    await set_status(client, card, "suspended")
    assert (await check(counter_sc, token))["outcome"] == "suspended"
    await set_status(client, card, "active")
    assert (await check(counter_sc, token))["outcome"] == "valid"
    await set_status(client, card, "revoked")
    revoked = await check(counter_sc, token)
    assert revoked["outcome"] == "revoked"
    assert revoked["recognition"] is None


async def test_a_tampered_token_is_no_match(client: httpx.AsyncClient, counter_sc: httpx.AsyncClient) -> None:
    token = await issue(client, await make_card(client))
    header, _payload, signature = token.split(".")
    claims = claims_of(token)
    claims["cc"] = "A2"  # promote the card
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    for forged in (f"{header}.{forged_payload}.{signature}", token[:-4] + "AAAA", "not-a-token"):
        body = await check(counter_sc, forged)
        assert body["outcome"] == "no_match"
        assert body["credential"] is None
        assert body["checks"][0]["passed"] is False


async def test_an_expired_token_is_expired(
    app: HurenApp, client: httpx.AsyncClient, counter_sc: httpx.AsyncClient
) -> None:
    claims = claims_of(await issue(client, await make_card(client)))
    claims["exp"] = int(time.time()) - 3600
    old = encode_token(CARD_TOKEN, claims, app.services.keys)
    body = await check(counter_sc, old)
    assert body["outcome"] == "expired"
    assert {"id": "token.expiry", "passed": False, "code": "token.expired"} in body["checks"]


async def test_a_token_signed_before_a_key_rotation_still_verifies(
    app: HurenApp, client: httpx.AsyncClient, counter_sc: httpx.AsyncClient, session: AsyncSession
) -> None:
    token = await issue(client, await make_card(client))
    await rotate_signing_key(session, decode_key(app.services.settings.data_key.get_secret_value()))
    await session.commit()
    await app.services.keys.load(app.services.transactions)
    assert jwt.get_unverified_header(token)["kid"] != app.services.keys.current_kid
    assert (await check(counter_sc, token))["outcome"] == "valid"


async def test_the_offline_module_needs_nothing_but_published_artefacts(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    card = await make_card(client)
    token = await issue(client, card)
    await set_status(client, card, "suspended")
    jwks = (await anonymous.get("/.well-known/jwks.json")).json()
    lists = {
        f"{ISSUER}/v1/status-lists/CQ/{purpose}": (await fetch_list(anonymous, "CQ", purpose))[0]
        for purpose in ("revocation", "suspension")
    }
    result = verify_card_token(token, jwks, lists, issuers={ISSUER})
    assert result.outcome == "suspended"
    later = datetime.now(UTC) + timedelta(days=365 * 200)
    assert verify_card_token(token, jwks, lists, issuers={ISSUER}, now=later).outcome == "suspended"
    assert verify_card_token(token, jwks, lists, issuers={"https://elsewhere"}).outcome == "no_match"
    assert verify_card_token(token, {"keys": []}, lists, issuers={ISSUER}).outcome == "no_match"


async def test_the_counter_page_is_served_with_a_strict_policy(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get("/counter")
    assert page.status_code == 200
    assert "英才卡核验" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: the policy forbids it
    script = await anonymous.get("/counter/static/counter.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert (await anonymous.get("/counter/static/..%2Fpyproject.toml")).status_code == 404


async def test_a_signed_token_without_card_claims_is_no_match(
    app: HurenApp, client: httpx.AsyncClient, counter_sc: httpx.AsyncClient
) -> None:
    claims = claims_of(await issue(client, await make_card(client)))
    for broken in ({k: v for k, v in claims.items() if k != "cc"}, {**claims, "vu": "2099-13-40"}):
        body = await check(counter_sc, encode_token(CARD_TOKEN, broken, app.services.keys))
        assert body["outcome"] == "no_match"
        assert body["credential"] is None
        assert {"id": "token.claims", "passed": False, "code": "token.claims_invalid"} in body["checks"]
