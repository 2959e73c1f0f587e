"""The token endpoint as a standard OAuth 2.0 client library (Authlib) uses it, with its defaults.

Nothing here is written for huren: if Authlib's defaults and the node disagree (as they did on the lifetime of
private_key_jwt assertions, one hour in Authlib), an integrator would hit the same wall.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from joserfc.jwk import ECKey
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.service import create_client
from app.services import HurenApp
from tests.clients.test_token import client_key
from tests.conftest import TEST_SECRET, bearer

TOKEN_ENDPOINT = "http://testserver/oauth/token"


def authlib_client(app: HurenApp, client_id: str, secret: Any, method: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=client_id,
        client_secret=secret,
        token_endpoint_auth_method=method,
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
    )


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_authlib_gets_a_token_with_a_secret(app: HurenApp, method: str) -> None:
    async with authlib_client(app, "test-hr-cq", TEST_SECRET, method) as oauth:
        token = await oauth.fetch_token(TOKEN_ENDPOINT, grant_type="client_credentials", scope="verify")
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "verify"
        listed = await oauth.get("/v1/credentials", headers=bearer(token["access_token"]))
        assert listed.status_code == 403  # the token works; this client may not read the registry


async def test_authlib_gets_a_token_with_private_key_jwt(app: HurenApp, session: AsyncSession) -> None:
    private, jwk = client_key()
    client_id = f"cq-authlib-{uuid.uuid4().hex[:6]}"
    await create_client(
        session, name="authlib", region="CQ", scopes="verify", client_id=client_id, jwks={"keys": [jwk]}
    )
    await session.commit()
    # Authlib reads anything but its own key objects as an RSA key: hand it the EC key as joserfc's ECKey.
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    async with authlib_client(app, client_id, ECKey.import_key(pem), "private_key_jwt") as oauth:
        oauth.register_client_auth_method(
            PrivateKeyJWT(TOKEN_ENDPOINT, alg="ES256", headers={"kid": jwk["kid"]})
        )
        sent: list[str] = []

        async def keep_assertion(request: httpx.Request) -> None:
            form = dict(item.split("=", 1) for item in request.content.decode().split("&"))
            sent.append(form["client_assertion"])

        oauth.event_hooks["request"].append(keep_assertion)
        token = await oauth.fetch_token(TOKEN_ENDPOINT, grant_type="client_credentials")
        assert token["scope"] == "verify"
        # Authlib's own default lifetime, untouched: one hour.
        claims = jwt.decode(sent[0], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 3600
        # The assertion is still single-use.
        replay = await oauth.post(
            TOKEN_ENDPOINT,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": sent[0],
            },
        )
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_client"
