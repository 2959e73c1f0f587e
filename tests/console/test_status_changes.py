"""Bulk status changes over HTTP: the preview counts what the job then changes, row by row through the state
machine, each change audited with the person, the status lists moved; only admins may."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cards.service import find_status_index
from app.models import AuditEvent, Credential, StatusList
from app.services import HurenApp
from tests.factories import card_payload, title_payload, usci
from tests.imports.test_import import flatten, to_csv, upload
from tests.people.conftest import MovableClock, NewPerson, sign_in

ISSUER_A = usci("SC", 71)
ISSUER_B = usci("SC", 72)
ENDPOINTS = (
    ("POST", "/v1/admin/status-changes/preview"),
    ("POST", "/v1/admin/status-changes"),
    ("GET", "/v1/admin/status-changes"),
    ("GET", f"/v1/admin/status-changes/{uuid.uuid4().hex}"),
)


async def person_client(
    app: HurenApp, username: str, roles: str, new_person: NewPerson, clock: MovableClock
) -> httpx.AsyncClient:
    password = await new_person(username, roles=roles, regions="SC")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    session, _ = await sign_in(client, username, password, clock)
    client.headers["X-CSRF-Token"] = session["csrf_token"]
    return client


@pytest.fixture
async def admin(
    app: HurenApp, new_person: NewPerson, clock: MovableClock
) -> AsyncIterator[httpx.AsyncClient]:
    client = await person_client(app, "bulk.admin", "admin", new_person, clock)
    yield client
    await client.aclose()


async def create(client: httpx.AsyncClient, payload: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post("/v1/credentials", json=payload)
    assert answer.status_code == 201, answer.text
    return payload


def issuer(code: str) -> dict[str, str]:
    return {"name": "某市人力资源和社会保障局", "usci": code, "level": "city"}


@pytest.fixture
async def registry(client: httpx.AsyncClient) -> dict[str, list[dict[str, Any]]]:
    """Five titles of issuer A (one already revoked), two of issuer B."""
    of_a = [await create(client, title_payload(issuer=issuer(ISSUER_A))) for _ in range(5)]
    of_b = [await create(client, title_payload(issuer=issuer(ISSUER_B))) for _ in range(2)]
    revoked = of_a[0]
    answer = await client.post(
        f"/v1/credentials/title/SC/{revoked['number']}/status", json={"status": "revoked", "reason": "伪造"}
    )
    assert answer.status_code == 200, answer.text
    return {"a": of_a, "b": of_b}


async def statuses(session: AsyncSession, numbers: list[str]) -> dict[str, str]:
    rows = await session.execute(
        select(Credential.number, Credential.status).where(Credential.number.in_(numbers))
    )
    return dict(rows.all())


async def test_the_preview_counts_and_masks(admin: httpx.AsyncClient, registry: dict[str, Any]) -> None:
    answer = await admin.post(
        "/v1/admin/status-changes/preview", json={"filter": {"issuer_usci": ISSUER_A}, "status": "suspended"}
    )
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["count"] == 5
    assert preview["refused_by_state_machine"] == 1  # revoked is terminal
    assert [row["number"] for row in preview["sample"]] == [p["number"] for p in registry["a"]]
    assert preview["sample"][0]["refused_code"] == "status.forbidden_transition"
    assert all("*" in row["holder_id_masked"] for row in preview["sample"])
    assert all(p["holder"]["id_number"] not in answer.text for p in registry["a"])
    # A selection by key counts the same way; asking to reinstate, only the revoked one is refused... and the
    # four active ones too (already active).
    keys = [{"kind": "title", "region": "SC", "number": p["number"]} for p in registry["a"][:3]]
    answer = await admin.post(
        "/v1/admin/status-changes/preview", json={"selection": keys, "status": "active"}
    )
    assert answer.json()["count"] == 3
    assert answer.json()["refused_by_state_machine"] == 3
    # Issue-date range and current status combine with the rest.
    wanted = {
        "issuer_usci": ISSUER_A,
        "status": "active",
        "issued_from": "2022-06-01",
        "issued_to": "2022-06-01",
    }
    answer = await admin.post(
        "/v1/admin/status-changes/preview", json={"filter": wanted, "status": "revoked"}
    )
    assert (answer.json()["count"], answer.json()["refused_by_state_machine"]) == (4, 0)


async def test_a_filter_must_say_something(admin: httpx.AsyncClient) -> None:
    for body in ({"filter": {}, "status": "revoked"}, {"status": "revoked"}):
        answer = await admin.post("/v1/admin/status-changes/preview", json=body)
        assert answer.status_code == 422, answer.text


async def test_the_job_changes_exactly_the_previewed_rows(
    admin: httpx.AsyncClient, registry: dict[str, Any], session: AsyncSession
) -> None:
    body = {"filter": {"issuer_usci": ISSUER_A}, "status": "suspended"}
    preview = (await admin.post("/v1/admin/status-changes/preview", json=body)).json()
    assert (
        await admin.post("/v1/admin/status-changes", json=body)
    ).status_code == 422  # the reason is required
    started = await admin.post("/v1/admin/status-changes", json={**body, "reason": "发证机关核查"})
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    assert started.headers["location"] == f"/v1/admin/status-changes/{job_id}"
    job = (await admin.get(f"/v1/admin/status-changes/{job_id}")).json()
    assert job["status"] == "succeeded"
    assert (job["total"], job["done"]) == (preview["count"], preview["count"])
    assert job["changed"] == preview["count"] - preview["refused_by_state_machine"] == 4
    assert (job["refused"], job["refusals"]) == (1, {"status.forbidden_transition": 1})
    assert job["actor"] == "bulk.admin"
    a_numbers = [p["number"] for p in registry["a"]]
    b_numbers = [p["number"] for p in registry["b"]]
    assert await statuses(session, a_numbers) == {
        a_numbers[0]: "revoked",
        **{number: "suspended" for number in a_numbers[1:]},
    }
    assert set((await statuses(session, b_numbers)).values()) == {"active"}
    events = (
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "credential.status_changed"))
    ).all()
    by_job = [e for e in events if (e.details or {}).get("status_change") == job_id]
    assert len(by_job) == 4
    assert {(e.actor, e.actor_method, e.actor_roles, e.client_id) for e in by_job} == {
        ("bulk.admin", "password", "admin", "huren-web")
    }
    for action in ("status_change.created", "status_change.finished"):
        found = await session.scalar(
            select(func.count()).where(
                AuditEvent.action == action, AuditEvent.object_ref == f"status_change:{job_id}"
            )
        )
        assert found == 1, action
    assert (await admin.get(f"/v1/admin/status-changes/{uuid.uuid4().hex}")).status_code == 404
    assert (await admin.get("/v1/admin/status-changes/preview")).status_code == 405
    listed = (await admin.get("/v1/admin/status-changes")).json()["items"]
    assert listed[0]["id"] == job_id
    # The same change again: every row is refused now (already suspended, or revoked), none is changed.
    again = await admin.post("/v1/admin/status-changes", json={**body, "reason": "重复"})
    second = (await admin.get(f"/v1/admin/status-changes/{again.json()['id']}")).json()
    assert (second["changed"], second["refused"]) == (0, 5)
    assert second["refusals"] == {"status.unchanged": 4, "status.forbidden_transition": 1}


async def test_cards_move_their_status_lists(
    app: HurenApp, client: httpx.AsyncClient, admin: httpx.AsyncClient, session: AsyncSession
) -> None:
    cards = [await create(client, card_payload("CQ", issuer=issuer(usci("CQ", 73)))) for _ in range(2)]
    for card in cards:
        assert (await client.post(f"/v1/cards/CQ/{card['number']}/token")).status_code == 200
    before = await session.scalar(select(StatusList.revision).where(StatusList.region_code == "CQ"))
    publisher = app.services.status_lists
    assert (await publisher.current("CQ", "revocation")).bits.count() == 0
    keys = [{"kind": "card", "region": "CQ", "number": c["number"]} for c in cards]
    started = await admin.post(
        "/v1/admin/status-changes", json={"selection": keys, "status": "revoked", "reason": "人才卡收回"}
    )
    assert started.status_code == 202
    after = await session.scalar(select(StatusList.revision).where(StatusList.region_code == "CQ"))
    assert after is not None
    assert before is not None
    assert after > before
    published = await publisher.current("CQ", "revocation")
    for card in cards:
        credential_id = await session.scalar(select(Credential.id).where(Credential.number == card["number"]))
        assert credential_id is not None
        index = await find_status_index(session, credential_id)
        assert index is not None
        assert published.bits.get(index)


async def test_an_import_batch_is_selected_by_its_job(
    client: httpx.AsyncClient, admin: httpx.AsyncClient, registry: dict[str, Any]
) -> None:
    rows = [flatten(title_payload()) for _ in range(3)]
    imported = await upload(client, "title", to_csv("title", rows), mode="commit")
    assert imported.status_code == 201, imported.text
    job_id = imported.json()["id"]
    body = {"filter": {"import_job": job_id}, "status": "revoked"}
    preview = (await admin.post("/v1/admin/status-changes/preview", json=body)).json()
    assert preview["count"] == 3
    assert sorted(row["number"] for row in preview["sample"]) == sorted(r["number"] for r in rows)


async def test_only_admins_may(app: HurenApp, new_person: NewPerson, clock: MovableClock) -> None:
    body = {"filter": {"kind": "title"}, "status": "revoked", "reason": "x"}
    for username, roles in (("bulk.clerk", "clerk"), ("bulk.auditor", "auditor")):
        client = await person_client(app, username, roles, new_person, clock)
        try:
            for method, path in ENDPOINTS:
                answer = await client.request(method, path, json=body if method == "POST" else None)
                assert answer.status_code == 403, (username, path, answer.status_code)
                assert answer.headers["content-type"].startswith("application/problem+json")
        finally:
            await client.aclose()
