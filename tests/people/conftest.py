"""People's fixtures: staff created in the test database, a clock the tests move, signed-in clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.people.accounts import Actor, create_staff
from app.people.roles import load_role_scopes
from app.services import HurenApp


class MovableClock:
    """The time the app judges sessions and locks by; a test moves it forward."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app: HurenApp) -> MovableClock:
    moving = MovableClock()
    app.services.clock = moving
    return moving


NewPerson = Callable[..., Coroutine[Any, Any, str]]


@pytest.fixture
def new_person(sessionmaker: async_sessionmaker[AsyncSession]) -> NewPerson:
    """Create a person; returns their initial password."""

    async def make(username: str, roles: str = "clerk", regions: str = "CQ") -> str:
        async with sessionmaker() as session:
            _, password = await create_staff(
                session,
                username=username,
                display_name=f"测试{username}",
                regions=regions.split(","),
                roles=roles.split(","),
                known_regions=["SC", "CQ"],
                role_scopes=await load_role_scopes(session),
                actor=Actor("test"),
            )
            await session.commit()
        assert password is not None
        return password

    return make


def secret_of(otp_uri: str) -> str:
    return parse_qs(urlparse(otp_uri).query)["secret"][0]


@pytest.fixture
async def cookie_client(app: HurenApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a cookie jar and no token: what a browser is to the API."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str, clock: MovableClock
) -> tuple[dict[str, Any], str]:
    """The whole first sign-in: enrolment answer, then password and code. Returns the session and secret."""
    first = await client.post("/v1/session", json={"username": username, "password": password})
    assert first.status_code == 401, first.text
    assert first.json()["code"] == "session.otp_enrolment_required"
    secret = secret_of(first.json()["otp_uri"])
    code = pyotp.TOTP(secret).at(clock())
    answer = await client.post("/v1/session", json={"username": username, "password": password, "otp": code})
    assert answer.status_code == 200, answer.text
    return answer.json(), secret
