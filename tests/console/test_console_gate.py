"""Who may open the console: admins and auditors; a clerk is refused, nobody is sent to sign in."""

from __future__ import annotations

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
