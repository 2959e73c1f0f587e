"""The registry endpoints the console reads: search filters, a credential's history, the audited reveal of
the holder's number, and who may use them."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent
from app.services import HurenApp
from tests.conftest import bearer, mint_token
from tests.console.staff import staff_client
from tests.factories import card_payload, title_payload, usci
from tests.people.conftest import MovableClock, NewPerson


async def create(client: httpx.AsyncClient, payload: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post("/v1/credentials", json=payload)
    assert answer.status_code == 201, answer.text
    return payload


def numbers(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return [item["number"] for item in page.json()["items"]]


async def test_search_by_number_holder_issuer_and_issue_dates(client: httpx.AsyncClient) -> None:
    name = "欧阳检索"
    early = title_payload(issued_on="2020-01-10", obtained_on="2019-12-01")
    early["holder"]["name"] = name
    await create(client, early)
    late = title_payload(
        issued_on="2023-05-01", issuer={"name": "重庆检索测试评审中心", "usci": usci("SC", 77)}
    )
    late["holder"]["name"] = name
    await create(client, late)
    other = await create(client, card_payload())
    assert numbers(await client.get("/v1/credentials", params={"number": other["number"]})) == [
        other["number"]
    ]
    by_name = numbers(await client.get("/v1/credentials", params={"holder_name": f" {name} "}))
    assert by_name == [early["number"], late["number"]]
    assert numbers(await client.get("/v1/credentials", params={"holder_name": "欧阳"})) == []  # exact only
    assert numbers(
        await client.get("/v1/credentials", params={"holder_name": name, "issuer": "检索测试"})
    ) == [late["number"]]
    assert numbers(
        await client.get("/v1/credentials", params={"holder_name": name, "issuer": usci("SC", 77)})
    ) == [late["number"]]
    dated = {"holder_name": name, "issued_from": "2021-01-01", "issued_to": "2023-12-31"}
    assert numbers(await client.get("/v1/credentials", params=dated)) == [late["number"]]
    assert numbers(
        await client.get("/v1/credentials", params={"holder_name": name, "issued_to": "2020-01-10"})
    ) == [early["number"]]
    percent = await client.get("/v1/credentials", params={"holder_name": name, "issuer": "%"})
    assert numbers(percent) == []  # a wildcard in the text is text


async def test_history_lists_status_changes_and_recent_verifications(
    app: HurenApp, client: httpx.AsyncClient
) -> None:
    payload = await create(client, title_payload())
    path = f"/v1/credentials/title/SC/{payload['number']}"
    assert (
        await client.post(f"{path}/status", json={"status": "suspended", "reason": "核查中"})
    ).status_code == 200
    assert (
        await client.post(f"{path}/status", json={"status": "active", "reason": "核查完毕"})
    ).status_code == 200
    verifier = mint_token(app, "test-hr-cq", "verify registry:read", region="CQ")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=bearer(verifier)
    ) as hr:
        body = {
            "kind": "title",
            "region": "SC",
            "number": payload["number"],
            "name": payload["holder"]["name"],
        }
        assert (await hr.post("/v1/verify", json=body)).status_code == 200
    history = (await client.get(f"{path}/history")).json()
    assert [(c["from_status"], c["to_status"], c["reason"]) for c in history["status_changes"]] == [
        ("suspended", "active", "核查完毕"),
        ("active", "suspended", "核查中"),
    ]
    assert history["status_changes"][0]["actor"] == "test-admin"
    (verified,) = history["verifications"]
    assert (verified["client_id"], verified["action"], verified["outcome"]) == (
        "test-hr-cq",
        "credential.verified",
        "valid",
    )
    assert [v["current"] for v in history["versions"]] == [True]
    assert (await client.get("/v1/credentials/title/SC/NOPE/history")).status_code == 404


async def test_an_admin_reveals_the_number_audited_and_uncached(
    app: HurenApp,
    session: AsyncSession,
    new_person: NewPerson,
    clock: MovableClock,
    client: httpx.AsyncClient,
) -> None:
    payload = await create(client, title_payload())
    path = f"/v1/credentials/title/SC/{payload['number']}"
    admin = await staff_client(app, "r.admin", "admin", new_person, clock)
    try:
        shown = await admin.get(path)
        assert payload["holder"]["id_number"] not in shown.text
        revealed = await admin.post(f"{path}/holder/reveal")
        assert revealed.status_code == 200, revealed.text
        assert revealed.json() == {"id_type": "resident_id", "id_number": payload["holder"]["id_number"]}
        assert revealed.headers["cache-control"] == "no-store"
        changed = await admin.post(f"{path}/status", json={"status": "suspended", "reason": "人工核查"})
        assert changed.status_code == 200
        history = (await admin.get(f"{path}/history")).json()
        assert history["status_changes"][0]["actor"] == "r.admin"
    finally:
        await admin.aclose()
    event = await session.scalar(
        select(AuditEvent).where(AuditEvent.action == "holder.revealed").order_by(AuditEvent.seq.desc())
    )
    assert event is not None
    assert event.actor == "r.admin"
    assert payload["holder"]["id_number"] not in str(event.details)


async def test_clerks_and_auditors_are_refused(
    app: HurenApp, new_person: NewPerson, clock: MovableClock, client: httpx.AsyncClient
) -> None:
    payload = await create(client, title_payload())
    path = f"/v1/credentials/title/SC/{payload['number']}"
    reader = mint_token(app, "test-reader", "registry:read")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=bearer(reader)
    ) as machine:
        assert (await machine.get(f"{path}/history")).status_code == 200
        assert (await machine.post(f"{path}/holder/reveal")).status_code == 403  # reading is not revealing
    for username, roles in (("r.clerk", "clerk"), ("r.auditor", "auditor")):
        caller = await staff_client(app, username, roles, new_person, clock)
        try:
            assert (await caller.get(f"{path}/history")).status_code == 403
            assert (await caller.get("/v1/credentials", params={"holder_name": "张三"})).status_code == 403
            assert (await caller.post(f"{path}/holder/reveal")).status_code == 403
            refused = await caller.post(f"{path}/status", json={"status": "suspended", "reason": "x"})
            assert refused.status_code == 403
        finally:
            await caller.aclose()
