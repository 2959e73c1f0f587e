"""Fixtures for verification: HR callers of each region and credentials made through the registry API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from app.services import HurenApp
from tests.conftest import bearer, mint_token

MakeCredential = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@pytest.fixture
async def hr_cq(app: HurenApp) -> AsyncIterator[httpx.AsyncClient]:
    """An HR system of Chongqing (client test-hr-cq, scope verify)."""
    token = mint_token(app, "test-hr-cq", "verify registry:read", region="CQ")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=bearer(token)
    ) as client:
        yield client


@pytest.fixture
async def hr_sc(app: HurenApp) -> AsyncIterator[httpx.AsyncClient]:
    """A caller of Sichuan: the test admin with the verify scope."""
    token = mint_token(app, "test-admin", "verify", region="SC")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=bearer(token)
    ) as client:
        yield client


@pytest.fixture
def make_credential(client: httpx.AsyncClient) -> MakeCredential:
    async def make(payload: dict[str, Any]) -> dict[str, Any]:
        created = await client.post("/v1/credentials", json=payload)
        assert created.status_code == 201, created.text
        return payload

    return make


def ask(payload: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The verification request for a credential made from `payload`: number plus the holder's name."""
    body = {
        "kind": payload["kind"],
        "region": payload["region"],
        "number": payload["number"],
        "name": payload["holder"]["name"],
    }
    body.update(overrides)
    return body
