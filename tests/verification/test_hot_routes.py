"""The verification routes served past the router (app/hot_routes.py) answer as the router would have."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute

from app.errors import AppError
from app.federation.forward import Dispatcher
from app.hot_routes import HotRoutes, check_endpoint
from app.services import HurenApp
from app.verification.routes import router
from tests.factories import title_payload
from tests.verification.conftest import MakeCredential, ask

PERSONAL_ID = "510104198201130014"


def test_every_verification_route_is_hot_and_takes_only_the_request() -> None:
    hot = HotRoutes(app=None, router=router)  # type: ignore[arg-type]
    assert set(hot.routes) == {
        ("POST", "/v1/verify"),
        ("POST", "/v1/verify/batch"),
        ("POST", "/v1/verify/card-token"),
    }


def test_an_endpoint_with_dependencies_cannot_be_hot() -> None:
    other = APIRouter()

    def caller() -> str:
        return "x"

    @other.post("/needs")
    async def needs(request: Request, who: Annotated[str, Depends(caller)]) -> Response:
        return Response()

    with pytest.raises(RuntimeError, match="must be `async def endpoint"):
        check_endpoint(other.routes[0])  # type: ignore[arg-type]


async def test_the_hot_routes_are_the_documented_ones(app: HurenApp) -> None:
    paths = app.openapi()["paths"]
    for method, path in HotRoutes(app=None, router=router).routes:  # type: ignore[arg-type]
        assert method.lower() in paths[path]


async def test_a_hot_answer_has_its_request_id_and_its_metrics_label(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential, client: httpx.AsyncClient
) -> None:
    payload = await make_credential(title_payload())
    response = await hr_cq.post("/v1/verify", json=ask(payload), headers={"X-Request-ID": "ticket-12345"})
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "ticket-12345"
    refused = await hr_cq.post("/v1/verify", json={"kind": "title"})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["x-request-id"]
    text = (await client.get("/metrics")).text
    assert 'huren_http_requests_total{method="POST",route="/v1/verify",status="200"} 1.0' in text
    assert 'huren_http_requests_total{method="POST",route="/v1/verify",status="422"} 1.0' in text


async def test_a_hot_route_refuses_a_caller_without_a_token_as_problem_json(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.post("/v1/verify/batch", json={"items": []})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["instance"] == "/v1/verify/batch"


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_other_methods_on_a_hot_path_go_to_the_router(hr_cq: httpx.AsyncClient, method: str) -> None:
    response = await hr_cq.request(method, "/v1/verify")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_unexpected_error_on_a_hot_route_is_a_bare_500(
    app: HurenApp, monkeypatch: pytest.MonkeyPatch, hr_cq: httpx.AsyncClient
) -> None:
    async def explode(self: Dispatcher, *args: Any) -> None:
        raise RuntimeError(f"{PERSONAL_ID} leaked")

    monkeypatch.setattr(Dispatcher, "verify", explode)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers=dict(hr_cq.headers)
    ) as caller:
        response = await caller.post(
            "/v1/verify", json={"kind": "title", "region": "SC", "number": "x", "name": "张三"}
        )
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert PERSONAL_ID not in response.text
    assert "Traceback" not in response.text


async def test_the_hot_routes_do_not_go_through_the_router(
    anonymous: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(self: APIRoute, scope: object, receive: object, send: object) -> None:
        raise AssertionError("routed")

    monkeypatch.setattr(APIRoute, "handle", unreachable)
    response = await anonymous.post("/v1/verify", json={})
    assert response.status_code == 401  # answered, by the endpoint's own admission check


async def test_a_plain_function_exception_handler_serves_hot_routes_too(
    app: HurenApp, anonymous: httpx.AsyncClient
) -> None:
    def teapot(request: Request, exc: Exception) -> Response:
        return Response("refused", status_code=418)

    app.add_exception_handler(AppError, teapot)
    response = await anonymous.post("/v1/verify", json={})
    assert (response.status_code, response.text) == (418, "refused")
