"""The token is checked before the body is judged, and an undecodable body is a documented 422 problem."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi.routing import APIRoute

from app.routing import AuthFirstRoute
from app.services import HurenApp
from app.tracing import QueryRedactor
from tests.conftest import TEST_CLIENTS, bearer, mint_token

NOT_UTF8 = b'{"name": "\xff\xfe\x80"}'
NOT_JSON = b"{'kind': title"
JSON_ROUTES = [
    ("POST", "/v1/credentials"),
    ("POST", "/v1/credentials/title/SC/X1/status"),
    ("POST", "/v1/admin/clients"),
    ("PUT", "/v1/admin/recognition-rules/sc-title"),
    ("PUT", "/v1/admin/card-systems/cq-yingcai/issuing-window"),
    ("POST", "/v1/federation/verify"),
    ("POST", "/v1/verify"),
]


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
@pytest.mark.parametrize("body", [NOT_UTF8, NOT_JSON], ids=["not-utf8", "not-json"])
async def test_garbage_body_without_token_is_401(
    anonymous: httpx.AsyncClient, method: str, path: str, body: bytes
) -> None:
    answer = await anonymous.request(method, path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "/problems/unauthorized"


@pytest.mark.parametrize(
    ("body", "code"), [(NOT_UTF8, "body.encoding"), (NOT_JSON, "body.json")], ids=["not-utf8", "not-json"]
)
async def test_garbage_body_with_token_is_422_naming_the_body(
    client: httpx.AsyncClient, body: bytes, code: str
) -> None:
    answer = await client.post("/v1/credentials", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "/problems/validation-error"
    assert problem["errors"] == [
        {"field": None, "location": "body", "code": code, "message": problem["errors"][0]["message"]}
    ]


async def test_garbage_body_without_scope_is_403(app: HurenApp, anonymous: httpx.AsyncClient) -> None:
    token = mint_token(app, "test-reader", TEST_CLIENTS["test-reader"][1])
    answer = await anonymous.post(
        "/v1/credentials",
        content=NOT_UTF8,
        headers={"content-type": "application/json", **bearer(token)},
    )
    assert answer.status_code == 403, answer.text


def test_every_route_admits_before_reading_its_body(app: HurenApp) -> None:
    plain = [r.path for r in app.routes if isinstance(r, APIRoute) and not isinstance(r, AuthFirstRoute)]
    assert plain == []


def test_the_access_log_never_shows_a_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/auth/oidc/callback?code=secret-code&state=s", "1.1", 302),
        None,
    )
    assert QueryRedactor().filter(record)
    assert "secret-code" not in record.getMessage()
    assert "/auth/oidc/callback?…" in record.getMessage()
