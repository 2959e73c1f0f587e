"""The staff admin API (`/v1/admin/staff`): an admin manages people; a clerk and an auditor may not."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest

from app.services import HurenApp
from tests.people.conftest import MovableClock, NewPerson, sign_in


class Signed:
    """A browser-like client signed in as one person, with the CSRF header its session needs."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client, self.csrf = client, csrf

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)

    async def post(self, path: str, body: object = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers={"X-CSRF-Token": self.csrf})

    async def put(self, path: str, body: object) -> httpx.Response:
        return await self.client.put(path, json=body, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
async def open_clients() -> AsyncIterator[list[httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []
    yield clients
    for client in clients:
        await client.aclose()


SignIn = Callable[[str, str], Coroutine[Any, Any, Signed]]


@pytest.fixture
def signed_in(
    app: HurenApp, new_person: NewPerson, clock: MovableClock, open_clients: list[httpx.AsyncClient]
) -> SignIn:
    async def make(username: str, roles: str) -> Signed:
        password = await new_person(username, roles=roles, regions="SC")
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        open_clients.append(client)
        session, _ = await sign_in(client, username, password, clock)
        return Signed(client, session["csrf_token"])

    return make


NEW_PERSON = {"username": "Zhang.Wei", "display_name": "张伟", "regions": ["sc"], "roles": ["clerk"]}


async def test_an_admin_creates_lists_and_changes_a_person(
    app: HurenApp, signed_in: SignIn, clock: MovableClock
) -> None:
    admin = await signed_in("s.admin", "admin")
    created = await admin.post("/v1/admin/staff", NEW_PERSON)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["username"] == "zhang.wei"
    assert body["regions"] == ["SC"]
    assert body["roles"] == ["clerk"]
    assert body["state"] == "active"
    assert body["totp_enrolled"] is False
    assert body["source"] == "local"
    password = body["initial_password"]
    assert isinstance(password, str)
    assert len(password) >= 12

    listed = (await admin.get("/v1/admin/staff")).json()["items"]
    row = next(item for item in listed if item["username"] == "zhang.wei")
    assert "initial_password" not in row  # shown once, in the creation's answer only
    assert (await admin.post("/v1/admin/staff", NEW_PERSON)).status_code == 409

    # The new person signs in; a change of roles ends that session at once.
    person = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    try:
        await sign_in(person, "zhang.wei", password, clock)
        assert (await person.get("/v1/session")).status_code == 200
        changed = await admin.put(
            "/v1/admin/staff/zhang.wei/roles", {"roles": ["auditor"], "regions": ["CQ", "SC"]}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["roles"] == ["auditor"]
        assert changed.json()["regions"] == ["CQ", "SC"]
        assert (await person.get("/v1/session")).status_code == 401
    finally:
        await person.aclose()

    refused = await admin.put("/v1/admin/staff/zhang.wei/roles", {"roles": ["king"], "regions": ["SC"]})
    assert refused.status_code == 422
    reset = await admin.post("/v1/admin/staff/zhang.wei/reset-factor")
    assert reset.status_code == 200
    assert reset.json()["totp_enrolled"] is False
    disabled = await admin.post("/v1/admin/staff/zhang.wei/disable")
    assert disabled.status_code == 200
    assert disabled.json()["state"] == "disabled"
    assert (await admin.post("/v1/admin/staff/nobody/disable")).status_code == 404


async def test_the_audit_names_the_admin_who_acted(signed_in: SignIn) -> None:
    admin = await signed_in("a.admin", "admin")
    assert (await admin.post("/v1/admin/staff", {**NEW_PERSON, "username": "li.na"})).status_code == 201
    assert (
        await admin.put("/v1/admin/staff/li.na/roles", {"roles": ["clerk"], "regions": ["CQ"]})
    ).status_code == 200
    assert (await admin.post("/v1/admin/staff/li.na/reset-factor")).status_code == 200
    assert (await admin.post("/v1/admin/staff/li.na/disable")).status_code == 200
    events = (await admin.get("/v1/admin/audit?object_ref=staff:li.na")).json()["items"]
    actions = [event["action"] for event in events]
    assert actions == ["staff.disabled", "staff.factor_reset", "staff.roles_changed", "staff.created"]
    for event in events:
        assert event["actor"] == "a.admin"
        assert event["actor_roles"] == ["admin"]
        assert event["client_id"] == "huren-web"
    assert events[2]["details"]["before"] == {"roles": ["clerk"], "regions": ["SC"]}


async def test_an_admin_may_not_disable_themself(signed_in: SignIn) -> None:
    admin = await signed_in("self.admin", "admin")
    answer = await admin.post("/v1/admin/staff/Self.Admin/disable")
    assert answer.status_code == 409
    assert answer.json()["code"] == "staff.self_disable"
    assert (await admin.get("/v1/session")).status_code == 200


WRITES = (
    ("post", "/v1/admin/staff", {**NEW_PERSON, "username": "x.person"}),
    ("post", "/v1/admin/staff/x.target/disable", None),
    ("post", "/v1/admin/staff/x.target/reset-factor", None),
    ("put", "/v1/admin/staff/x.target/roles", {"roles": ["admin"], "regions": ["SC"]}),
)


async def test_a_clerk_is_refused_everything_and_an_auditor_every_write(
    signed_in: SignIn, new_person: NewPerson
) -> None:
    await new_person("x.target", roles="clerk")
    clerk = await signed_in("x.clerk", "clerk")
    auditor = await signed_in("x.auditor", "auditor")
    assert (await clerk.get("/v1/admin/staff")).status_code == 403
    assert (await auditor.get("/v1/admin/staff")).status_code == 403  # the audit is theirs, accounts are not
    for caller in (clerk, auditor):
        for method, path, body in WRITES:
            answer = await (caller.post(path, body) if method == "post" else caller.put(path, body))
            assert answer.status_code == 403, (method, path, answer.status_code)
