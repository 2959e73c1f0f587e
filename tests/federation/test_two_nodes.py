"""Two real nodes on 127.0.0.1: Sichuan (SC) and Chongqing (CQ), separate databases, each holding its region.

CQ reaches SC through a gateway process (tests/federation/gateway.py) that can be told to misbehave, the way a
broken proxy or an attacker on the path would. CQ trusts SC's keys from SC's own JWKS URL, not the gateway's.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.processes import Process, fetch_token, free_port, huren_env, huren_server, run_huren

REPO = Path(__file__).resolve().parents[2]
TTL_SECONDS = 2
READ_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Process]]:
    folder = tmp_path_factory.mktemp("federation")
    sc_port, cq_port, gw_port = free_port(), free_port(), free_port()
    sc_url, cq_url, gw_url = (f"http://127.0.0.1:{p}" for p in (sc_port, cq_port, gw_port))
    sc_env = huren_env(
        folder / "sc.db",
        HUREN_REGIONS='["SC"]',
        HUREN_PUBLIC_URL=sc_url,
        HUREN_PEERS=json.dumps({"CQ": cq_url}),
        HUREN_STATUS_LIST_TTL_SECONDS=str(TTL_SECONDS),
    )
    cq_env = huren_env(
        folder / "cq.db",
        HUREN_REGIONS='["CQ"]',
        HUREN_PUBLIC_URL=cq_url,
        HUREN_PEERS=json.dumps({"SC": gw_url}),
        HUREN_PEER_ISSUERS=json.dumps({"SC": sc_url}),
        HUREN_PEER_JWKS=json.dumps({"SC": f"{sc_url}/.well-known/jwks.json"}),
        HUREN_PEER_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT),
        HUREN_PEER_CONNECT_TIMEOUT_SECONDS="1",
        HUREN_PEER_REFRESH_SECONDS=str(TTL_SECONDS),
        HUREN_PEER_BREAKER_FAILURES="1000",
    )
    for env in (sc_env, cq_env):
        loaded = run_huren(env, "demo")
        assert loaded.returncode == 0, loaded.stderr[-2000:]
    gateway_env = {**cq_env, "GATEWAY_UPSTREAM": sc_url}
    gateway_argv = [sys.executable, "-m", "uvicorn", "tests.federation.gateway:create_app", "--factory"]
    gateway_argv += ["--host", "127.0.0.1", "--port", str(gw_port), "--log-level", "warning"]
    processes = {
        "SC": huren_server(sc_env, sc_port, folder / "sc.log"),
        "CQ": huren_server(cq_env, cq_port, folder / "cq.log"),
        "gateway": Process(gateway_argv, gateway_env, gw_port, folder / "gateway.log", cwd=REPO),
    }
    try:
        for name in ("SC", "CQ", "gateway"):
            processes[name].start()
        yield processes
    finally:
        for process in processes.values():
            process.stop()


def gateway_mode(nodes: dict[str, Process], mode: str) -> None:
    httpx.post(f"{nodes['gateway'].url}/_mode", json={"mode": mode}).raise_for_status()


def bearer(node: Process, client_id: str, scope: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(node.url, client_id, f'{client_id}-secret', scope)}"}


@pytest.fixture(scope="module")
def sc_title(nodes: dict[str, Process]) -> dict[str, Any]:
    """An active senior title of Sichuan's provincial HR authority, as the SC registry holds it."""
    admin = bearer(nodes["SC"], "demo-admin")
    page = httpx.get(
        f"{nodes['SC'].url}/v1/credentials",
        params={"kind": "title", "region": "SC", "status": "active", "limit": 100},
        headers=admin,
    ).json()
    senior = [
        c
        for c in page["items"]
        if c["title_level"] in ("senior_full", "senior_deputy") and c["issuer"]["level"] == "province"
    ]
    assert senior, "the demo should hold senior titles of the provincial authority"
    return dict(senior[0])


def ask(title: dict[str, Any]) -> dict[str, str]:
    return {"kind": "title", "region": "SC", "number": title["number"], "name": title["holder"]["name"]}


def test_cq_gets_the_sc_answer_with_sc_receipt_and_cq_recognition(
    nodes: dict[str, Process], sc_title: dict[str, Any]
) -> None:
    gateway_mode(nodes, "pass")
    answer = httpx.post(
        f"{nodes['CQ'].url}/v1/verify", json=ask(sc_title), headers=bearer(nodes["CQ"], "demo-hr-cq")
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "valid"
    assert body["answered_by"] == nodes["SC"].url
    assert body["credential"]["number"] == sc_title["number"]
    # The receipt is SC's: it verifies with SC's published keys, for the CQ client that asked.
    jwks = httpx.get(f"{nodes['SC'].url}/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(body["receipt"])["kid"]
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid)).key
    claims = jwt.decode(
        body["receipt"], key, algorithms=["ES256"], audience="demo-hr-cq", issuer=nodes["SC"].url
    )
    assert claims["outcome"] == "valid"
    # Recognition is Chongqing's: a senior title of the provincial authority is recognised directly.
    assert body["recognition"]["mode"] == "direct"
    assert body["recognition"]["target_region"] == "CQ"
    assert {"id": "recognition.rule", "passed": True, "code": "recognition.direct"} in body["checks"]
    # CQ holds none of Sichuan's people.
    cq_admin = bearer(nodes["CQ"], "demo-admin")
    listed = httpx.get(f"{nodes['CQ'].url}/v1/credentials", params={"region": "SC"}, headers=cq_admin)
    assert listed.json()["items"] == []
    metrics = httpx.get(f"{nodes['CQ'].url}/metrics", headers=cq_admin).text
    assert 'huren_peer_calls_total{region="SC",result="ok"}' in metrics
    assert 'huren_peer_circuit_open{region="SC"} 0.0' in metrics


def test_cq_names_the_shortage_posts_of_its_own_catalogue_for_an_sc_title(
    nodes: dict[str, Process], sc_title: dict[str, Any]
) -> None:
    """The peer answers for its registry; which catalogue posts the title fills in Chongqing is the CQ node's
    to say, from the catalogue imported there (as recognition is)."""
    gateway_mode(nodes, "pass")
    series = sc_title["title_code"][:2]
    header = "edition,cluster,post,title_series,urgency,region\r\n"
    rows = f"{header}2023,联邦测试集群,联邦测试岗位,{series},重度,CQ\r\n"
    imported = httpx.post(
        f"{nodes['CQ'].url}/v1/imports",
        params={"kind": "catalogue", "mode": "commit"},
        headers={**bearer(nodes["CQ"], "demo-admin"), "Idempotency-Key": "federation-catalogue"},
        files={"file": ("catalogue.csv", rows.encode(), "text/csv")},
    )
    assert imported.status_code in (200, 201), imported.text
    assert imported.json()["status"] == "succeeded"
    answer = httpx.post(
        f"{nodes['CQ'].url}/v1/verify", json=ask(sc_title), headers=bearer(nodes["CQ"], "demo-hr-cq")
    ).json()
    assert answer["answered_by"] == nodes["SC"].url
    assert {"edition": "2023", "post": "联邦测试岗位", "urgency": "severe"} in answer["shortage"]
    batch = httpx.post(
        f"{nodes['CQ'].url}/v1/verify/batch",
        json={"items": [ask(sc_title)]},
        headers=bearer(nodes["CQ"], "demo-hr-cq"),
    ).json()
    assert batch["results"][0]["shortage"] == answer["shortage"]


@pytest.mark.parametrize("mode", ["tamper", "resign", "garbage", "huge"])
def test_a_bad_peer_answer_is_never_passed_on(
    nodes: dict[str, Process], sc_title: dict[str, Any], mode: str
) -> None:
    gateway_mode(nodes, mode)
    try:
        answer = httpx.post(
            f"{nodes['CQ'].url}/v1/verify", json=ask(sc_title), headers=bearer(nodes["CQ"], "demo-hr-cq")
        )
    finally:
        gateway_mode(nodes, "pass")
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"] == "/problems/peer-unavailable"


def test_a_slow_peer_is_cut_off_at_the_read_timeout(
    nodes: dict[str, Process], sc_title: dict[str, Any]
) -> None:
    headers = bearer(nodes["CQ"], "demo-hr-cq")
    cq_admin = bearer(nodes["CQ"], "demo-admin")
    cq_card = httpx.get(
        f"{nodes['CQ'].url}/v1/credentials",
        params={"kind": "card", "region": "CQ", "limit": 1},
        headers=cq_admin,
    ).json()["items"][0]
    local = {"kind": "card", "region": "CQ", "number": cq_card["number"], "name": cq_card["holder"]["name"]}
    gateway_mode(nodes, "hang")
    try:
        started = time.monotonic()
        single = httpx.post(f"{nodes['CQ'].url}/v1/verify", json=ask(sc_title), headers=headers, timeout=20)
        elapsed = time.monotonic() - started
        batch = httpx.post(
            f"{nodes['CQ'].url}/v1/verify/batch",
            json={"items": [local, ask(sc_title)]},
            headers=headers,
            timeout=20,
        )
    finally:
        gateway_mode(nodes, "pass")
    assert single.status_code == 503
    assert single.json()["type"] == "/problems/peer-unavailable"
    assert READ_TIMEOUT <= elapsed < READ_TIMEOUT + 2.5
    results = batch.json()["results"]
    assert results[0]["outcome"] in ("valid", "expired", "suspended", "revoked")  # answered here
    assert results[1]["type"] == "/problems/peer-unavailable"
    assert results[1]["status"] == 503


def wait_for(check: Any, timeout: float, step: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None or time.monotonic() > deadline:
            return result
        time.sleep(step)


def test_sc_cards_verify_at_cq_with_sc_down_and_revocations_arrive_once_sc_is_back(
    nodes: dict[str, Process], sc_title: dict[str, Any]
) -> None:
    sc_admin = bearer(nodes["SC"], "demo-admin")
    cards = httpx.get(
        f"{nodes['SC'].url}/v1/credentials",
        params={"kind": "card", "region": "SC", "status": "active", "limit": 50},
        headers=sc_admin,
    ).json()["items"]
    card = next(c for c in cards if c["valid_until"] > "2027")
    token = httpx.post(f"{nodes['SC'].url}/v1/cards/SC/{card['number']}/token", headers=sc_admin).json()[
        "token"
    ]
    counter = bearer(nodes["CQ"], "demo-counter-cq")

    def outcome_at_cq() -> dict[str, Any] | None:
        answer = httpx.post(f"{nodes['CQ'].url}/v1/verify/card-token", json={"token": token}, headers=counter)
        return answer.json() if answer.status_code == 200 else None

    first = wait_for(outcome_at_cq, timeout=15)  # CQ's copies of SC's keys and lists arrive in the background
    assert first is not None
    assert first["outcome"] == "valid"
    assert first["recognition"]["mode"] == "reciprocal"

    nodes["SC"].stop()
    try:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{nodes['SC'].url}/healthz", timeout=1)
        offline = outcome_at_cq()
        assert offline is not None
        assert offline["outcome"] == "valid"
        assert offline["status_list_age_seconds"] >= 0  # and says how old its copy is
        direct = httpx.post(
            f"{nodes['CQ'].url}/v1/verify", json=ask(sc_title), headers=bearer(nodes["CQ"], "demo-hr-cq")
        )
        assert direct.status_code == 503  # a registry look-up needs SC: never a guess
        # CQ restarted while SC is still down: its saved copies come back with it.
        nodes["CQ"].stop()
        nodes["CQ"].start()
        counter.update(bearer(nodes["CQ"], "demo-counter-cq"))
        restarted = wait_for(outcome_at_cq, timeout=15)
        assert restarted is not None
        assert restarted["outcome"] == "valid"
    finally:
        nodes["SC"].start()

    sc_admin = bearer(nodes["SC"], "demo-admin")
    revoked = httpx.post(
        f"{nodes['SC'].url}/v1/credentials/card/SC/{card['number']}/status",
        json={"status": "revoked", "reason": "联邦测试"},
        headers=sc_admin,
    )
    assert revoked.status_code == 200, revoked.text
    started = time.monotonic()

    def revoked_at_cq() -> dict[str, Any] | None:
        answer = outcome_at_cq()
        return answer if answer is not None and answer["outcome"] == "revoked" else None

    seen = wait_for(revoked_at_cq, timeout=20)
    assert seen is not None, "the revocation never reached CQ"
    # Within one ttl of the list, plus one refresh period of CQ's copy and request time.
    assert time.monotonic() - started <= 2 * TTL_SECONDS + 3
