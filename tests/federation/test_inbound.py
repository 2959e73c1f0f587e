"""Inbound federation in process: only a configured peer's fresh, single-use assertion opens /v1/federation/*;
plus the settings checks and the circuit breaker."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.federation.breaker import CircuitBreaker
from app.main import create_app, start_services
from app.security import new_jti
from app.services import HurenApp
from app.settings import Settings
from tests.conftest import savepoints
from tests.factories import title_payload

PEER = "https://cq.huren.example"
OWN = "http://testserver"


@pytest.fixture
def peer_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def jwk_of(key: ec.EllipticCurvePrivateKey, kid: str = "cq-1") -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}


@pytest.fixture
async def sc_node(
    settings: Settings,
    engine: AsyncEngine,
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
    peer_key: ec.EllipticCurvePrivateKey,
) -> AsyncIterator[HurenApp]:
    """This node as Sichuan's, with Chongqing's node configured as its peer by pinned keys."""
    node_settings = settings.model_copy(
        update={
            "regions": ["SC"],
            "public_url": OWN,
            "peers": {"CQ": PEER},
            "peer_jwks": {"CQ": {"keys": [jwk_of(peer_key)]}},
        }
    )
    app = create_app(node_settings, engine=engine)
    await start_services(app, engine, transactions=savepoints(connection), sessionmaker=sessionmaker)
    yield app
    assert app.services.peer_client is not None
    await app.services.peer_client.close()


def assertion(key: ec.EllipticCurvePrivateKey, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": PEER,
        "sub": PEER,
        "aud": OWN,
        "iat": now,
        "exp": now + 60,
        "jti": new_jti(),
        "obo": "cq-hr-1",
        "caller_region": "CQ",
    }
    headers = {"typ": overrides.pop("typ", "huren-peer+jwt"), "kid": overrides.pop("kid", "cq-1")}
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="ES256", headers=headers)


async def ask(app: HurenApp, token: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=OWN) as client:
        return await client.post(
            "/v1/federation/verify", json=body, headers={"Authorization": f"Bearer {token}"}
        )


async def test_a_peer_assertion_gets_an_answer_with_a_receipt_for_the_peer_client(
    sc_node: HurenApp, client: httpx.AsyncClient, peer_key: ec.EllipticCurvePrivateKey
) -> None:
    payload = title_payload("SC")
    assert (await client.post("/v1/credentials", json=payload)).status_code == 201
    body = {"kind": "title", "region": "SC", "number": payload["number"], "name": "张三"}
    answer = await ask(sc_node, assertion(peer_key), body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["outcome"] == "valid"
    assert result["answered_by"] == OWN
    claims = jwt.decode(result["receipt"], options={"verify_signature": False})
    assert claims["aud"] == "cq-hr-1"
    assert claims["caller_region"] == "CQ"


async def test_an_area_this_node_does_not_know_fails_no_item_of_a_peer_batch(
    sc_node: HurenApp, client: httpx.AsyncClient, peer_key: ec.EllipticCurvePrivateKey
) -> None:
    """The asking node judged the area and applies its own rules: here an unknown one is dropped, so one
    item cannot turn a whole batch into a failure (and trip the asking node's breaker)."""
    payload = title_payload("SC")
    assert (await client.post("/v1/credentials", json=payload)).status_code == 201
    item = {"kind": "title", "region": "SC", "number": payload["number"], "name": "张三"}
    items = [item, {**item, "target_area": "an-area-of-the-peer"}]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sc_node), base_url=OWN) as peer:
        answer = await peer.post(
            "/v1/federation/verify/batch",
            json={"items": items},
            headers={"Authorization": f"Bearer {assertion(peer_key)}"},
        )
    assert answer.status_code == 200, answer.text
    assert [r["outcome"] for r in answer.json()["results"]] == ["valid", "valid"]
    single = await ask(sc_node, assertion(peer_key), items[1])
    assert single.status_code == 200, single.text


@pytest.mark.parametrize(
    "forge",
    [
        lambda key: assertion(key, iss="https://elsewhere.example"),
        lambda key: assertion(key, aud="https://other-node.example"),
        lambda key: assertion(key, typ="at+jwt"),
        lambda key: assertion(key, kid="unknown"),
        lambda key: assertion(key, caller_region="SC"),
        lambda key: assertion(key, exp=int(time.time()) - 120),
        lambda key: assertion(key, exp=int(time.time()) + 3600),
        lambda key: assertion(key, obo="x" * 65),
        lambda key: assertion(key, jti="j" * 201),
        lambda key: assertion(ec.generate_private_key(ec.SECP256R1())),
        lambda key: "not.a.token",
    ],
)
async def test_forged_assertions_are_refused(
    sc_node: HurenApp, peer_key: ec.EllipticCurvePrivateKey, forge: Any
) -> None:
    body = {"kind": "title", "region": "SC", "number": "T1", "name": "张三"}
    answer = await ask(sc_node, forge(peer_key), body)
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_an_assertion_is_accepted_once(sc_node: HurenApp, peer_key: ec.EllipticCurvePrivateKey) -> None:
    token = assertion(peer_key)
    body = {"kind": "title", "region": "SC", "number": "T1", "name": "张三"}
    assert (await ask(sc_node, token, body)).status_code == 200
    assert (await ask(sc_node, token, body)).status_code == 401


async def test_a_peer_asks_only_about_regions_held_here(
    sc_node: HurenApp, peer_key: ec.EllipticCurvePrivateKey
) -> None:
    body = {"kind": "title", "region": "CQ", "number": "T1", "name": "张三"}
    assert (await ask(sc_node, assertion(peer_key), body)).status_code == 404


async def test_without_peers_the_federation_routes_refuse_everyone(
    anonymous: httpx.AsyncClient, peer_key: ec.EllipticCurvePrivateKey
) -> None:
    body = {"kind": "title", "region": "SC", "number": "T1", "name": "张三"}
    answer = await anonymous.post(
        "/v1/federation/verify", json=body, headers={"Authorization": f"Bearer {assertion(peer_key)}"}
    )
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"regions": ["SC"], "peers": {"SC": "http://x.example"}}, "both held here"),
        ({"regions": ["SC"], "peers": {"CQ": "ftp://x.example"}}, "not an http(s) base URL"),
        ({"regions": ["SC"], "peers": {"chongqing": "http://x.example"}}, "not a region code"),
        ({"regions": ["SC"], "peer_issuers": {"CQ": "http://x.example"}}, "not in HUREN_PEERS"),
        ({"regions": ["SC"], "peers": {"CQ": "http://x"}, "peer_jwks": {"CQ": {"k": 1}}}, 'no "keys" list'),
        ({"regions": []}, "HUREN_REGIONS is empty"),
    ],
)
def test_federation_settings_that_cannot_work_are_refused(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**overrides)
    assert fragment in str(caught.value)


def test_the_circuit_opens_after_repeated_failures_and_tries_again_after_the_cooldown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("app.federation.breaker.time.monotonic", lambda: clock[0])
    breaker = CircuitBreaker(failures_to_open=3, cooldown_seconds=30)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allows()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allows()
    clock[0] += 30
    assert breaker.allows()  # one trial
    assert not breaker.allows()  # and only one
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allows()


async def test_a_redirecting_peer_is_not_followed(settings: Settings, sc_node: HurenApp) -> None:
    from app.federation.client import PeerClient, PeerUnavailable
    from app.metrics import RequestMetrics
    from app.security import Principal
    from app.verification.schemas import VerifyIn

    calls: list[str] = []

    def redirect(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://evil.example/v1/federation/verify/batch"})

    node = settings.model_copy(
        update={"regions": ["SC"], "public_url": OWN, "peers": {"CQ": PEER}, "peer_breaker_failures": 1}
    )
    metrics = RequestMetrics()
    peers = PeerClient(node, sc_node.services.keys, transport=httpx.MockTransport(redirect), metrics=metrics)
    item = VerifyIn(kind="title", region="CQ", number="T1", name="张三")
    caller = Principal("sc-hr", "SC", frozenset({"verify"}))
    with pytest.raises(PeerUnavailable):
        await peers.verify_items("CQ", [item], caller)
    with pytest.raises(PeerUnavailable):  # the circuit is open now: no second call goes out
        await peers.verify_items("CQ", [item], caller)
    await peers.close()
    assert calls == [f"{PEER}/v1/federation/verify/batch"]
    sample = metrics.registry.get_sample_value
    assert sample("huren_peer_calls_total", {"region": "CQ", "result": "failed"}) == 1
    assert sample("huren_peer_calls_total", {"region": "CQ", "result": "paused"}) == 1
    assert sample("huren_peer_circuit_open", {"region": "CQ"}) == 1


async def test_an_unknown_kid_fetches_the_peer_jwks_at_most_once_per_cooldown(
    peer_key: ec.EllipticCurvePrivateKey,
) -> None:
    from app.federation.keys import PeerKeys

    fetches: list[str] = []
    published = {"keys": [jwk_of(peer_key, "cq-1")]}

    async def fetch(url: str) -> dict[str, Any]:
        fetches.append(url)
        return {"keys": list(published["keys"])}  # a new document each time, as over the network

    keys = PeerKeys(anchor=f"{PEER}/.well-known/jwks.json", fetch=fetch, miss_cooldown_seconds=60)
    assert await keys.key_for("cq-1") is not None
    assert len(fetches) == 1
    for _ in range(5):  # made-up kids: one refetch, then none until the cooldown passes
        assert await keys.key_for("forged") is None
    assert len(fetches) == 2
    rotated = ec.generate_private_key(ec.SECP256R1())
    published["keys"].append(jwk_of(rotated, "cq-2"))
    keys.last_miss_fetch -= 60  # the cooldown has passed: a rotated key is found with one fetch
    assert await keys.key_for("cq-2") is not None
    assert len(fetches) == 3


async def test_pinned_peer_keys_are_never_fetched(peer_key: ec.EllipticCurvePrivateKey) -> None:
    from app.federation.keys import PeerKeys

    async def fetch(url: str) -> dict[str, Any]:
        raise AssertionError("pinned keys must not be fetched")

    keys = PeerKeys(anchor={"keys": [jwk_of(peer_key)]}, fetch=fetch)
    assert await keys.key_for("cq-1") is not None
    assert await keys.key_for("other") is None


@pytest.mark.usefixtures("frozen_window")
async def test_each_peer_client_has_a_budget_here_too(
    sc_node: HurenApp, peer_key: ec.EllipticCurvePrivateKey
) -> None:
    sc_node.services.settings = sc_node.services.settings.model_copy(update={"rate_limit_per_minute": 3})
    body = {"kind": "title", "region": "SC", "number": "T1", "name": "张三"}
    statuses = [(await ask(sc_node, assertion(peer_key), body)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    other = (await ask(sc_node, assertion(peer_key, obo="cq-hr-2"), body)).status_code
    assert other == 200


async def test_a_peer_answer_that_breaks_the_parser_gives_peer_unavailable_not_a_hang(
    settings: Settings, sc_node: HurenApp
) -> None:
    import asyncio

    from app.federation.client import PeerClient, PeerUnavailable
    from app.security import Principal
    from app.verification.schemas import VerifyIn

    def nested(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000)

    node = settings.model_copy(update={"regions": ["SC"], "public_url": OWN, "peers": {"CQ": PEER}})
    peers = PeerClient(node, sc_node.services.keys, transport=httpx.MockTransport(nested))
    item = VerifyIn(kind="title", region="CQ", number="T1", name="张三")
    with pytest.raises(PeerUnavailable):
        await asyncio.wait_for(
            peers.verify_items("CQ", [item], Principal("sc-hr", "SC", frozenset({"verify"}))), timeout=10
        )
    await peers.close()
