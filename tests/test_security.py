"""Access tokens: a corpus of forged and malformed tokens, every one refused; the route table walked for auth;
scopes enforced; key rotation keeps tokens verifiable."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy.ext.asyncio import AsyncSession

from app.keys import rotate_signing_key
from app.privacy import decode_key
from app.security import RECEIPT, encode_token
from app.services import HurenApp
from tests.conftest import TEST_CLIENTS, bearer, mint_token

ADMIN_SCOPES = TEST_CLIENTS["test-admin"][1]
PROTECTED = "/v1/credentials?limit=1"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made(header: dict[str, Any], claims: dict[str, Any], key: bytes, alg: str = "sha256") -> str:
    """A token signed with HMAC by hand: PyJWT rightly refuses to do this with an asymmetric public key."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    digest = hmac.new(key, signing_input.encode(), getattr(hashlib, alg)).digest()
    return f"{signing_input}.{b64(digest)}"


def good_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "http://testserver",
        "aud": "http://testserver",
        "sub": "test-admin",
        "client_id": "test-admin",
        "region": "SC",
        "scope": ADMIN_SCOPES,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return claims


def forged_tokens(app: HurenApp) -> dict[str, str]:
    keys = app.services.keys
    kid, private_key = keys.signing_key()
    public = keys.public_keys[kid]
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    jwk_json = ECAlgorithm.to_jwk(public).encode()
    attacker = ec.generate_private_key(ec.SECP256R1())
    attacker_jwk = json.loads(ECAlgorithm.to_jwk(attacker.public_key()))
    hs_header = {"alg": "HS256", "typ": "at+jwt", "kid": kid}
    valid = mint_token(app, "test-admin", ADMIN_SCOPES)
    head, body, signature = valid.split(".")
    escalated = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    escalated["scope"] += " federation"
    now = int(time.time())

    def ours(claims: dict[str, Any], **headers: Any) -> str:
        return jwt.encode(
            claims, private_key, algorithm="ES256", headers={"typ": "at+jwt", "kid": kid, **headers}
        )

    return {
        "alg-none": f"{b64(json.dumps({'alg': 'none', 'typ': 'at+jwt', 'kid': kid}).encode())}."
        f"{b64(json.dumps(good_claims()).encode())}.",
        "hs256-public-pem": hand_made(hs_header, good_claims(), pem),
        "hs256-public-pem-stripped": hand_made(hs_header, good_claims(), pem.strip()),
        "hs256-public-der": hand_made(hs_header, good_claims(), der),
        "hs256-public-jwk": hand_made(hs_header, good_claims(), jwk_json),
        "hs256-kid-as-key": hand_made(hs_header, good_claims(), kid.encode()),
        "hs384-public-pem": hand_made({**hs_header, "alg": "HS384"}, good_claims(), pem, "sha384"),
        "hs512-public-pem": hand_made({**hs_header, "alg": "HS512"}, good_claims(), pem, "sha512"),
        "typ-jwt": ours(good_claims(), typ="JWT"),
        "typ-missing": jwt.encode(good_claims(), private_key, algorithm="ES256", headers={"kid": kid}),
        "typ-receipt": encode_token(RECEIPT, good_claims(), keys),
        "wrong-audience": ours(good_claims(aud="http://peer-node")),
        "audience-list": ours(good_claims(aud=["http://testserver", "http://peer-node"])),
        "wrong-issuer": ours(good_claims(iss="http://evil")),
        "expired": ours(good_claims(iat=now - 3600, nbf=now - 3600, exp=now - 1800)),
        "not-yet-valid": ours(good_claims(nbf=now + 3600)),
        "issued-in-future": ours(good_claims(iat=now + 3600)),
        "no-jti": ours({k: v for k, v in good_claims().items() if k != "jti"}),
        "no-exp": ours({k: v for k, v in good_claims().items() if k != "exp"}),
        "no-scope": ours({k: v for k, v in good_claims().items() if k != "scope"}),
        "unknown-kid": ours(good_claims(), kid="no-such-key"),
        "no-kid": jwt.encode(good_claims(), private_key, algorithm="ES256", headers={"typ": "at+jwt"}),
        "crit-header": ours(good_claims(), crit=["exp"]),
        "jku-header": ours(good_claims(), jku="http://evil/jwks.json"),
        "x5u-header": ours(good_claims(), x5u="http://evil/cert.pem"),
        "embedded-jwk": jwt.encode(
            good_claims(), attacker, algorithm="ES256", headers={"typ": "at+jwt", "jwk": attacker_jwk}
        ),
        "attacker-key-our-kid": jwt.encode(
            good_claims(), attacker, algorithm="ES256", headers={"typ": "at+jwt", "kid": kid}
        ),
        "es384-header": f"{b64(json.dumps({'alg': 'ES384', 'typ': 'at+jwt', 'kid': kid}).encode())}"
        f".{body}.{signature}",
        "payload-escalated": f"{head}.{b64(json.dumps(escalated).encode())}.{signature}",
        "signature-truncated": f"{head}.{body}.{signature[:-10]}",
        "unknown-subject": ours(good_claims(sub="nobody", client_id="nobody")),
        "garbage": "this-is-not-a-token",
        "two-segments": f"{head}.{body}",
        "oversized": f"{head}.{b64(b'x' * 9000)}.{signature}",
    }


async def test_forged_tokens_are_all_refused(anonymous: httpx.AsyncClient, app: HurenApp) -> None:
    corpus = forged_tokens(app)
    assert len(corpus) >= 20
    genuine = mint_token(app, "test-admin", ADMIN_SCOPES)
    assert (await anonymous.get(PROTECTED, headers=bearer(genuine))).status_code == 200
    for name, token in corpus.items():
        response = await anonymous.get(PROTECTED, headers=bearer(token))
        assert response.status_code == 401, name
        assert response.headers["content-type"].startswith("application/problem+json"), name
        assert response.json()["type"] == "/problems/unauthorized", name


@pytest.mark.parametrize("header", ["", "Bearer", "Basic dGVzdDp0ZXN0", "Token abc", "Bearer  "])
async def test_malformed_authorization_headers(anonymous: httpx.AsyncClient, header: str) -> None:
    response = await anonymous.get(PROTECTED, headers={"Authorization": header})
    assert response.status_code == 401


OPEN_ROUTES = {
    "/healthz",
    "/readyz",
    "/.well-known/jwks.json",
    "/oauth/token",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/v1/status-lists/{region}/{purpose}",  # public by design: counters fetch them without credentials
    "/v1/reference/{table}",  # the code tables, public for integrators
    "/v1/catalogue",  # the published shortage catalogue, likewise
}
# Signing in is what a person does before they have a session.
OPEN_OPERATIONS = {
    ("POST", "/v1/session"),
    ("GET", "/v1/session/methods"),
    ("GET", "/auth/oidc/login"),
    ("GET", "/auth/oidc/callback"),
}


def concrete_path(path: str) -> str:
    return (
        path.replace("{kind}", "title")
        .replace("{region}", "SC")
        .replace("{number}", "X1")
        .replace("{client_id}", "nobody")
        .replace("{job_id}", "0" * 32)
    )


async def test_every_route_but_the_open_ones_requires_a_token(
    anonymous: httpx.AsyncClient, app: HurenApp
) -> None:
    # The route table as the app publishes it, plus the routes kept out of the schema on purpose.
    operations = [(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item]
    operations.append(("GET", "/metrics"))
    checked = 0
    for method, path in operations:
        if path in OPEN_ROUTES or (method, path) in OPEN_OPERATIONS:
            continue
        response = await anonymous.request(method, concrete_path(path), json={})
        assert response.status_code == 401, (method, path, response.status_code)
        checked += 1
    assert checked >= 8


async def test_open_routes_answer_without_a_token(anonymous: httpx.AsyncClient) -> None:
    open_paths = ("/healthz", "/readyz", "/.well-known/jwks.json", "/openapi.json", "/docs", "/counter")
    for path in (*open_paths, "/v1/status-lists/SC/revocation"):
        assert (await anonymous.get(path)).status_code == 200, path


@pytest.mark.parametrize(
    ("scopes", "method", "path", "status"),
    [
        ("verify", "GET", "/v1/credentials", 403),
        ("registry:read", "GET", "/v1/credentials", 200),
        ("registry:read", "POST", "/v1/credentials/title/SC/X/status", 403),
        ("registry:write", "GET", "/v1/admin/clients", 403),
        ("registry:read", "GET", "/metrics", 403),
        ("metrics", "GET", "/metrics", 200),
        ("admin", "GET", "/v1/admin/audit/verify", 200),
    ],
)
async def test_scopes_are_enforced(
    anonymous: httpx.AsyncClient, app: HurenApp, scopes: str, method: str, path: str, status: int
) -> None:
    token = mint_token(app, "test-admin", scopes)
    response = await anonymous.request(
        method, path, headers=bearer(token), json={"status": "revoked", "reason": "x"}
    )
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["type"] == "/problems/insufficient-scope"


async def test_rotation_keeps_old_tokens_valid(
    anonymous: httpx.AsyncClient, app: HurenApp, session: AsyncSession
) -> None:
    before = mint_token(app, "test-admin", ADMIN_SCOPES)
    old_kid = app.services.keys.current_kid
    await rotate_signing_key(session, decode_key(app.services.settings.data_key.get_secret_value()))
    await session.commit()
    await app.services.keys.load(app.services.transactions)
    assert app.services.keys.current_kid != old_kid
    app.services.authenticator.cache.clear()  # make the old token go through signature checking again
    assert (await anonymous.get(PROTECTED, headers=bearer(before))).status_code == 200
    after = mint_token(app, "test-admin", ADMIN_SCOPES)
    assert jwt.get_unverified_header(after)["kid"] == app.services.keys.current_kid
    jwks = (await anonymous.get("/.well-known/jwks.json")).json()
    kids = [k["kid"] for k in jwks["keys"]]
    assert kids[0] == app.services.keys.current_kid
    assert old_kid in kids
    assert all("d" not in k for k in jwks["keys"])


async def test_jwks_alone_verifies_an_access_token(anonymous: httpx.AsyncClient, app: HurenApp) -> None:
    token = mint_token(app, "test-admin", ADMIN_SCOPES)
    jwks = (await anonymous.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["ES256"], audience="http://testserver")
    assert claims["sub"] == "test-admin"
