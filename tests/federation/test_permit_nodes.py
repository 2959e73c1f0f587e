"""Work permits across two real nodes: Sichuan's permits verified at the Chongqing node (which forwards them
to the Sichuan node), recognised by Chongqing's rules per class and per area of the new employer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tests.factories import permit_payload
from tests.processes import Process, fetch_token, free_port, huren_env, huren_server, run_huren


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Process]]:
    folder = tmp_path_factory.mktemp("permits")
    sc_port, cq_port = free_port(), free_port()
    sc_url, cq_url = f"http://127.0.0.1:{sc_port}", f"http://127.0.0.1:{cq_port}"
    sc_env = huren_env(
        folder / "sc.db",
        HUREN_REGIONS='["SC"]',
        HUREN_PUBLIC_URL=sc_url,
        HUREN_PEERS=json.dumps({"CQ": cq_url}),
    )
    cq_env = huren_env(
        folder / "cq.db",
        HUREN_REGIONS='["CQ"]',
        HUREN_PUBLIC_URL=cq_url,
        HUREN_PEERS=json.dumps({"SC": sc_url}),
    )
    for env in (sc_env, cq_env):
        loaded = run_huren(env, "demo")
        assert loaded.returncode == 0, loaded.stderr[-2000:]
    processes = {
        "SC": huren_server(sc_env, sc_port, folder / "sc.log"),
        "CQ": huren_server(cq_env, cq_port, folder / "cq.log"),
    }
    try:
        for process in processes.values():
            process.start()
        yield processes
    finally:
        for process in processes.values():
            process.stop()


def bearer(node: Process, client_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(node.url, client_id, f'{client_id}-secret')}"}


@pytest.fixture(scope="module")
def sc_permits(nodes: dict[str, Process]) -> dict[str, dict[str, Any]]:
    """One active SC permit of each class, registered at the SC node."""
    admin = bearer(nodes["SC"], "demo-admin")
    permits = {}
    for permit_class in ("A", "B", "C"):
        payload = permit_payload("SC", permit_class)
        created = httpx.post(f"{nodes['SC'].url}/v1/credentials", json=payload, headers=admin)
        assert created.status_code == 201, created.text
        permits[permit_class] = payload
    return permits


def ask(payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    holder = payload["holder"]
    return {
        "kind": "permit",
        "region": payload["region"],
        "number": payload["number"],
        "name": holder["name"],
        "id_type": holder["id_type"],
        "id_number": holder["id_number"],
        **extra,
    }


def verify_at_cq(nodes: dict[str, Process], body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{nodes['CQ'].url}/v1/verify", json=body, headers=bearer(nodes["CQ"], "demo-hr-cq"))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    assert result["answered_by"] == nodes["SC"].url  # looked up by the node that holds Sichuan
    return result


def test_an_a_class_sichuan_permit_is_recognised_directly_at_the_chongqing_node(
    nodes: dict[str, Process], sc_permits: dict[str, dict[str, Any]]
) -> None:
    payload = sc_permits["A"]
    body = verify_at_cq(nodes, ask(payload))
    assert body["outcome"] == "valid"
    credential = body["credential"]
    assert (credential["kind"], credential["permit_class"]) == ("permit", "A")
    assert credential["employer_usci"] == payload["employer_usci"]
    assert credential["holder"]["id_type"] == "passport"
    assert payload["holder"]["id_number"] not in json.dumps(body)
    assert body["recognition"]["mode"] == "direct"
    assert body["recognition"]["target_region"] == "CQ"
    assert body["recognition"]["equivalent"]["new_permit_max_years"] == 5
    assert {"id": "recognition.rule", "passed": True, "code": "recognition.direct"} in body["checks"]


def test_a_b_class_permit_is_recognised_only_for_an_employer_in_the_pilot_area(
    nodes: dict[str, Process], sc_permits: dict[str, dict[str, Any]]
) -> None:
    payload = sc_permits["B"]
    outside = verify_at_cq(nodes, ask(payload))
    assert (outside["outcome"], outside["recognition"]) == ("valid", None)
    assert {"id": "recognition.rule", "passed": False, "code": "recognition.no_rule"} in outside["checks"]
    inside = verify_at_cq(nodes, ask(payload, target_area="gaozhu"))
    assert inside["recognition"]["rule"] == "permit-B-gaozhu-pilot-SC-CQ"
    unknown = httpx.post(
        f"{nodes['CQ'].url}/v1/verify",
        json=ask(payload, target_area="elsewhere"),
        headers=bearer(nodes["CQ"], "demo-hr-cq"),
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["code"] == "area.unknown"


def test_a_c_class_permit_is_not_recognised(
    nodes: dict[str, Process], sc_permits: dict[str, dict[str, Any]]
) -> None:
    body = verify_at_cq(nodes, ask(sc_permits["C"], target_area="gaozhu"))
    assert (body["outcome"], body["recognition"]) == ("valid", None)


def test_a_batch_at_the_chongqing_node_forwards_each_item_with_its_area(
    nodes: dict[str, Process], sc_permits: dict[str, dict[str, Any]]
) -> None:
    b_class = sc_permits["B"]
    items = [ask(sc_permits["A"]), ask(b_class), ask(b_class, target_area="gaozhu"), ask(sc_permits["C"])]
    answer = httpx.post(
        f"{nodes['CQ'].url}/v1/verify/batch", json={"items": items}, headers=bearer(nodes["CQ"], "demo-hr-cq")
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["outcome"] for r in results] == ["valid"] * 4
    assert [r["recognition"] and r["recognition"]["mode"] for r in results] == [
        "direct",
        None,
        "direct",
        None,
    ]


def test_the_area_is_forwarded_to_the_peer_whose_receipt_states_the_recognition(
    nodes: dict[str, Process], sc_permits: dict[str, dict[str, Any]]
) -> None:
    """The SC node signs the receipt, with the recognition it found for the CQ caller: only with the area
    forwarded does it find the pilot rule."""
    payload = sc_permits["B"]
    for area, expected in ((None, None), ("gaozhu", "direct")):
        body = verify_at_cq(nodes, ask(payload, target_area=area))
        claims = jwt.decode(body["receipt"], options={"verify_signature": False})
        assert claims["iss"] == nodes["SC"].url
        assert claims["recognition"] == expected


def test_a_chongqing_b_class_permit_at_the_sichuan_node_is_the_mirror_case(nodes: dict[str, Process]) -> None:
    payload = permit_payload("CQ", "B")
    # demo-admin is a Sichuan client, with registry:write: the CQ node holds CQ's registry.
    created = httpx.post(
        f"{nodes['CQ'].url}/v1/credentials", json=payload, headers=bearer(nodes["CQ"], "demo-admin")
    )
    assert created.status_code == 201, created.text
    sc_caller = bearer(nodes["SC"], "demo-admin")
    for area, rule in ((None, None), ("gaozhu", "permit-B-gaozhu-pilot-CQ-SC")):
        answer = httpx.post(
            f"{nodes['SC'].url}/v1/verify", json=ask(payload, target_area=area), headers=sc_caller
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["answered_by"] == nodes["CQ"].url
        assert (body["recognition"] and body["recognition"]["rule"]) == rule
