"""Who may open the console: admins and auditors; a clerk is refused, nobody is sent to sign in."""

from __future__ import annotations

import base64
import json

import httpx

from app.services import HurenApp
from tests.people.conftest import MovableClock, NewPerson, sign_in


async def signed_in(
    app: HurenApp, username: str, roles: str, new_person: NewPerson, clock: MovableClock
) -> httpx.AsyncClient:
    password = await new_person(username, roles=roles, regions="SC")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await sign_in(client, username, password, clock)
    return client


async def test_without_a_session_the_console_leads_to_sign_in(cookie_client: httpx.AsyncClient) -> None:
    answer = await cookie_client.get("/admin")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/admin"


async def test_admins_and_auditors_open_the_console_and_a_clerk_is_refused(
    app: HurenApp, new_person: NewPerson, clock: MovableClock
) -> None:
    for username, roles, expected in (
        ("g.admin", "admin", 200),
        ("g.auditor", "auditor", 200),
        ("g.clerk", "clerk", 403),
    ):
        client = await signed_in(app, username, roles, new_person, clock)
        try:
            page = await client.get("/admin", headers={"Accept": "text/html"})
            assert page.status_code == expected, (username, page.status_code)
            if expected == 200:
                assert "管理控制台" in page.text
                assert "script-src 'self'" in page.headers["content-security-policy"]
            else:
                assert "无权访问" in page.text
            problem = await client.get("/admin", headers={"Accept": "application/json"})
            assert problem.status_code == expected
        finally:
            await client.aclose()


async def test_the_console_serves_only_its_own_files(cookie_client: httpx.AsyncClient) -> None:
    assert (await cookie_client.get("/admin/static/admin.js")).status_code == 200
    assert (await cookie_client.get("/admin/static/..%2fconsole.py")).status_code == 404
    assert (await cookie_client.get("/admin/static/secret.txt")).status_code == 404


CONSOLE_PREFIXES = ("/v1/admin/", "/v1/imports", "/v1/credentials")


def console_operations(app: HurenApp) -> list[tuple[str, str]]:
    """Every API operation the console's sections call (and the rest under the same prefixes)."""
    operations = []
    for path, item in app.openapi()["paths"].items():
        if path.startswith(CONSOLE_PREFIXES):
            concrete = (
                path.replace("{kind}", "title")
                .replace("{region}", "SC")
                .replace("{number}", "X1")
                .replace("{client_id}", "nobody")
                .replace("{job_id}", "0" * 32)
                .replace("{username}", "nobody")
                .replace("{code}", "nothing")
            )
            operations += [(method.upper(), concrete) for method in item]
    return operations


async def test_a_clerk_is_refused_every_console_call_and_an_auditor_every_write(
    app: HurenApp, new_person: NewPerson, clock: MovableClock
) -> None:
    operations = console_operations(app)
    assert len(operations) >= 20
    clerk = await signed_in(app, "every.clerk", "clerk", new_person, clock)
    auditor = await signed_in(app, "every.auditor", "auditor", new_person, clock)
    try:
        for client in (clerk, auditor):
            client.headers["X-CSRF-Token"] = (await client.get("/v1/session")).json()["csrf_token"]
        for method, path in operations:
            answer = await clerk.request(method, path, json={})
            assert answer.status_code == 403, ("clerk", method, path, answer.status_code)
            if method != "GET":
                answer = await auditor.request(method, path, json={})
                assert answer.status_code == 403, ("auditor", method, path, answer.status_code)
        assert (await auditor.get("/v1/admin/audit")).status_code == 200
    finally:
        await clerk.aclose()
        await auditor.aclose()


async def test_cursors_and_times_past_what_the_database_holds_are_never_a_500(
    client: httpx.AsyncClient,
) -> None:
    """Values the schema admits but no key or timestamp column can hold: a cursor is refused as bad input; a
    time bound past the calendar's edge in UTC is taken as the first instant there is."""

    def cursor(body: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")

    job = "0" * 32
    for path, params in (
        (f"/v1/imports/{job}/errors", {"cursor": cursor({"after": 2**63})}),
        ("/v1/imports", {"cursor": cursor({"at": "2020-01-01", "id": job})}),
        ("/v1/imports", {"cursor": cursor({"at": "0001-01-01T00:00:00+14:00", "id": job})}),
        ("/v1/credentials", {"cursor": cursor({"after": 2**63})}),
        ("/v1/admin/audit", {"cursor": "9999999999999999999"}),
        ("/v1/admin/audit", {"since": "0001-01-01T00:00:00+14:00"}),
    ):
        answer = await client.get(path, params=params)
        expected = (200,) if "since" in params else (404, 422)
        assert answer.status_code in expected, (path, params, answer.status_code)
