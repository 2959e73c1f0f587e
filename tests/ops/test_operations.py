"""Health, readiness, metrics, and the problem+json shape of the framework's own errors."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.services import HurenApp
from tests.factories import title_payload


async def test_healthz(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_checks_the_database(anonymous: httpx.AsyncClient, app: HurenApp) -> None:
    assert (await anonymous.get("/readyz")).json() == {"status": "ready"}
    unreachable = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app.services.transactions = unreachable.begin
    response = await anonymous.get("/readyz")
    await unreachable.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/not-ready"


async def test_metrics_count_requests_per_route_template(client: httpx.AsyncClient) -> None:
    payload = title_payload()
    await client.post("/v1/credentials", json=payload)
    await client.get(f"/v1/credentials/title/SC/{payload['number']}")
    text = (await client.get("/metrics")).text
    assert 'route="/v1/credentials/{kind}/{region}/{number}"' in text
    assert 'huren_http_requests_total{method="POST",route="/v1/credentials",status="201"} 1.0' in text
    assert payload["number"] not in text
    assert "huren_http_request_duration_seconds_bucket" in text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/no/such/route", 404), ("DELETE", "/healthz", 405), ("PUT", "/v1/credentials", 405)],
)
async def test_framework_errors_are_problem_json(
    anonymous: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await anonymous.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["status"], body["instance"]) == (status, path)
    assert body["type"].startswith("/problems/")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/credentials", "GET, POST"),  # two routes serve this path
        ("DELETE", "/healthz", "GET"),
        ("PATCH", "/v1/admin/recognition-rules/some-rule", "PUT"),
        ("GET", "/v1/verify", "POST"),  # a hot route, answered past the router
    ],
)
async def test_405_allow_lists_every_method_of_the_path(
    anonymous: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await anonymous.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed


async def test_unexpected_error_is_a_bare_500(app: HurenApp) -> None:
    async def explode() -> None:
        raise RuntimeError("510104198201130014 leaked")

    app.add_api_route("/explode", explode)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/explode")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "510104" not in response.text
    assert "Traceback" not in response.text
