"""Signed-in staff for the console's API tests: a client per person, with the session's CSRF token."""

from __future__ import annotations

import httpx

from app.services import HurenApp
from tests.people.conftest import MovableClock, NewPerson, sign_in


async def staff_client(
    app: HurenApp, username: str, roles: str, new_person: NewPerson, clock: MovableClock
) -> httpx.AsyncClient:
    """The caller closes it."""
    password = await new_person(username, roles=roles, regions="SC")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    session, _ = await sign_in(client, username, password, clock)
    client.headers["X-CSRF-Token"] = session["csrf_token"]
    return client
