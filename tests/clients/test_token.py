"""The token endpoint: each client authentication method, and every way a request for a token is refused."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.clients.service import create_client
from app.main import create_app, start_services
from app.services import HurenApp
from app.settings import Settings
from tests.conftest import TEST_SECRET, bearer

TOKEN_URL = "/oauth/token"
AUDIENCE = "http://testserver/oauth/token"
GRANT = {"grant_type": "client_credentials"}


def client_key() -> tuple[ec.EllipticCurvePrivateKey, dict[str, Any]]:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid=uuid.uuid4().hex[:12], alg="ES256", use="sig")
    return private, jwk


def assertion(private: ec.EllipticCurvePrivateKey, kid: str, client_id: str, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    headers = overrides.pop("_headers", None) or {"kid": kid}
    claims.pop("_headers", None)
    return jwt.encode(claims, private, algorithm="ES256", headers=headers)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["error"], body["status"]) == (error, status)
    assert body["error_description"]


async def test_client_secret_basic(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post(TOKEN_URL, data=GRANT, auth=("test-hr-cq", TEST_SECRET))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 600, "registry:read verify")
    header = jwt.get_unverified_header(body["access_token"])
    assert (header["alg"], header["typ"]) == ("ES256", "at+jwt")
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert {"iss", "aud", "sub", "scope", "exp", "jti", "iat"} <= claims.keys()
    assert (claims["sub"], claims["region"], claims["aud"]) == ("test-hr-cq", "CQ", "http://testserver")
    listed = await anonymous.get("/v1/credentials?limit=1", headers=bearer(body["access_token"]))
    assert listed.status_code == 200


async def test_client_secret_post_with_narrower_scope(anonymous: httpx.AsyncClient) -> None:
    data = {**GRANT, "client_id": "test-hr-cq", "client_secret": TEST_SECRET, "scope": "verify"}
    body = (await anonymous.post(TOKEN_URL, data=data)).json()
    assert body["scope"] == "verify"
    assert (await anonymous.get("/v1/credentials", headers=bearer(body["access_token"]))).status_code == 403


async def test_basic_credentials_are_form_decoded(
    anonymous: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_client(
        session, name="odd", region="SC", scopes="verify", client_id="sc-odd", secret="a+b:c%d"
    )
    await session.commit()
    encoded = base64.b64encode(b"sc-odd:a%2Bb%3Ac%25d").decode()
    response = await anonymous.post(TOKEN_URL, data=GRANT, headers={"Authorization": f"Basic {encoded}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("data", "auth", "status", "error"),
    [
        (GRANT, ("test-hr-cq", "wrong"), 401, "invalid_client"),
        (GRANT, ("nobody", TEST_SECRET), 401, "invalid_client"),
        (GRANT, None, 400, "invalid_client"),
        ({"grant_type": "password"}, ("test-hr-cq", TEST_SECRET), 400, "unsupported_grant_type"),
        ({}, ("test-hr-cq", TEST_SECRET), 400, "unsupported_grant_type"),
        ({**GRANT, "scope": "verify admin"}, ("test-hr-cq", TEST_SECRET), 400, "invalid_scope"),
        ({**GRANT, "scope": "root"}, ("test-hr-cq", TEST_SECRET), 400, "invalid_scope"),
        ({**GRANT, "client_secret": TEST_SECRET}, ("test-hr-cq", TEST_SECRET), 400, "invalid_request"),
        ({**GRANT, "client_id": "test-reader"}, ("test-hr-cq", TEST_SECRET), 400, "invalid_request"),
    ],
)
async def test_token_requests_refused(
    anonymous: httpx.AsyncClient, data: dict[str, str], auth: tuple[str, str] | None, status: int, error: str
) -> None:
    response = await anonymous.post(TOKEN_URL, data=data, auth=auth or httpx.USE_CLIENT_DEFAULT)
    assert_oauth_error(response, status, error)
    assert "access_token" not in response.text


@pytest.mark.parametrize(
    ("how", "challenge"),
    [
        ("basic", 'Basic realm="huren"'),
        ("post", None),
        ("none", None),
    ],
)
async def test_basic_challenge_only_answers_basic(
    anonymous: httpx.AsyncClient, how: str, challenge: str | None
) -> None:
    """RFC 6749 §5.2: a failed Basic sign-in gets 401 and a Basic challenge; a client that sent its secret in
    the form (as the counter page does) gets 400, with no challenge a browser would answer with a dialog."""
    sent = {
        "basic": {"data": GRANT, "auth": ("test-hr-cq", "wrong")},
        "post": {"data": {**GRANT, "client_id": "test-hr-cq", "client_secret": "wrong"}},
        "none": {"data": {**GRANT, "client_id": "test-hr-cq", "client_secret": ""}},
    }[how]
    response = await anonymous.post(TOKEN_URL, **sent)  # type: ignore[arg-type]
    assert_oauth_error(response, 401 if challenge else 400, "invalid_client")
    assert response.headers.get("www-authenticate") == challenge


async def test_disabled_client_gets_no_token_and_loses_its_tokens(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_client(
        session, name="gone", region="CQ", scopes="registry:read", client_id="cq-gone", secret="gone-secret"
    )
    await session.commit()
    token = (await anonymous.post(TOKEN_URL, data=GRANT, auth=("cq-gone", "gone-secret"))).json()[
        "access_token"
    ]
    assert (await anonymous.get("/v1/credentials", headers=bearer(token))).status_code == 200
    assert (await client.post("/v1/admin/clients/cq-gone/disable")).json()["disabled"] is True
    assert (await anonymous.get("/v1/credentials", headers=bearer(token))).status_code == 401
    assert_oauth_error(
        await anonymous.post(TOKEN_URL, data=GRANT, auth=("cq-gone", "gone-secret")), 401, "invalid_client"
    )


@pytest.fixture
async def jwt_client(session: AsyncSession) -> tuple[str, ec.EllipticCurvePrivateKey, str]:
    private, jwk = client_key()
    client_id = f"cq-jwt-{uuid.uuid4().hex[:6]}"
    await create_client(
        session,
        name="jwt",
        region="CQ",
        scopes="verify registry:read",
        client_id=client_id,
        jwks={"keys": [jwk]},
    )
    await session.commit()
    return client_id, private, jwk["kid"]


def assertion_form(token: str, client_id: str | None = None) -> dict[str, str]:
    form = {
        **GRANT,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": token,
    }
    if client_id:
        form["client_id"] = client_id
    return form


async def test_private_key_jwt(anonymous: httpx.AsyncClient, jwt_client: tuple[str, Any, str]) -> None:
    client_id, private, kid = jwt_client
    response = await anonymous.post(
        TOKEN_URL, data=assertion_form(assertion(private, kid, client_id), client_id)
    )
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["sub"] == client_id


async def test_private_key_jwt_replay_is_refused(
    anonymous: httpx.AsyncClient, jwt_client: tuple[str, Any, str]
) -> None:
    client_id, private, kid = jwt_client
    token = assertion(private, kid, client_id)
    assert (await anonymous.post(TOKEN_URL, data=assertion_form(token))).status_code == 200
    assert_oauth_error(await anonymous.post(TOKEN_URL, data=assertion_form(token)), 400, "invalid_client")


def bad_assertions(client_id: str, private: Any, kid: str) -> dict[str, str]:
    other, _ = client_key()
    now = int(time.time())
    return {
        "wrong-audience": assertion(private, kid, client_id, aud="http://elsewhere/oauth/token"),
        "expired": assertion(private, kid, client_id, iat=now - 600, exp=now - 300),
        "too-long-lived": assertion(private, kid, client_id, exp=now + 3600 + 120),
        "other-key": assertion(other, kid, client_id),
        "no-jti": jwt.encode(
            {"iss": client_id, "sub": client_id, "aud": AUDIENCE, "exp": now + 60},
            private,
            algorithm="ES256",
            headers={"kid": kid},
        ),
        "sub-differs": assertion(private, kid, client_id, sub="someone-else"),
        "typ-access-token": jwt.encode(
            {"iss": client_id, "sub": client_id, "aud": AUDIENCE, "exp": now + 60, "jti": "x1"},
            private,
            algorithm="ES256",
            headers={"kid": kid, "typ": "at+jwt"},
        ),
        "jku-header": jwt.encode(
            {"iss": client_id, "sub": client_id, "aud": AUDIENCE, "exp": now + 60, "jti": "x2"},
            private,
            algorithm="ES256",
            headers={"kid": kid, "jku": "http://evil/jwks"},
        ),
        "hs256-unsigned-key": jwt.encode(
            {"iss": client_id, "sub": client_id, "aud": AUDIENCE, "exp": now + 60, "jti": "x3"},
            "secret-secret-secret-secret-1234",
            algorithm="HS256",
            headers={"kid": kid},
        ),
        "unknown-kid": assertion(private, "nope", client_id),
        "garbage": "not.a.jwt",
    }


async def test_private_key_jwt_refusals(
    anonymous: httpx.AsyncClient, jwt_client: tuple[str, Any, str]
) -> None:
    client_id, private, kid = jwt_client
    for name, token in bad_assertions(client_id, private, kid).items():
        response = await anonymous.post(TOKEN_URL, data=assertion_form(token))
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"] == "invalid_client", name
        assert "www-authenticate" not in response.headers, name


@pytest.fixture
async def live_app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[HurenApp]:
    """The app on real, separate connections, as in production: for races that need them."""
    app = create_app(settings, engine=engine)
    await start_services(app, engine)
    yield app
    await app.services.close(dispose_engine=False)


async def test_parallel_replay_lets_exactly_one_through(live_app: HurenApp, engine: AsyncEngine) -> None:
    private, jwk = client_key()
    client_id = f"sc-race-{uuid.uuid4().hex[:6]}"
    async with AsyncSession(engine) as session, session.begin():
        await create_client(
            session, name="race", region="SC", scopes="verify", client_id=client_id, jwks={"keys": [jwk]}
        )
    token = assertion(private, jwk["kid"], client_id)
    transport = httpx.ASGITransport(app=live_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        answers = await asyncio.gather(*(http.post(TOKEN_URL, data=assertion_form(token)) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] + [400] * 5


@pytest.mark.usefixtures("frozen_window")
async def test_token_endpoint_is_rate_limited(anonymous: httpx.AsyncClient, app: HurenApp) -> None:
    limit = app.services.settings.token_rate_limit_per_minute
    statuses = [
        (await anonymous.post(TOKEN_URL, data=GRANT, auth=("test-reader", "guess"))).status_code
        for _ in range(limit + 1)
    ]
    assert statuses[:limit] == [401] * limit
    assert statuses[-1] == 429
    last = await anonymous.post(TOKEN_URL, data=GRANT, auth=("test-reader", TEST_SECRET))
    assert last.status_code == 429
    assert 1 <= int(last.headers["retry-after"]) <= 60
