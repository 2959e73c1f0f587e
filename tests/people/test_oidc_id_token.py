"""ID token validation with tokens signed here: every way a token that a real provider would never send is
refused. The provider is a stand-in served through httpx.MockTransport: discovery, keys, token, userinfo."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from app.people.oidc import LoginStart, OidcConfig, OidcError, OidcRelyingParty

ISSUER = "https://idp.test"
CLIENT_ID = "huren"
CLIENT_SECRET = "a-client-secret-long-enough-for-hmac-keys"
NONCE = "the-nonce"
SIGNING_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})  # same kid, other key
NEXT_KEY = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig"})


def make_discovery(**changes: Any) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/auth",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "userinfo_endpoint": f"{ISSUER}/me",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        **changes,
    }


@dataclass
class FakeProvider:
    """Answers what the relying party asks, and counts the calls."""

    document: dict[str, Any] = field(default_factory=make_discovery)
    keys: list[RSAKey] = field(default_factory=lambda: [SIGNING_KEY])
    token_answer: dict[str, Any] = field(default_factory=dict)
    userinfo: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        match request.url.path:
            case "/.well-known/openid-configuration":
                return httpx.Response(200, json=self.document)
            case "/jwks":
                return httpx.Response(200, json={"keys": [key.as_dict(private=False) for key in self.keys]})
            case "/token":
                return httpx.Response(200, json=self.token_answer)
            case "/me":
                return httpx.Response(200, json=self.userinfo)
        return httpx.Response(404)


def make_party(provider: FakeProvider, **config: Any) -> OidcRelyingParty:
    settings: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": "https://huren.test/auth/oidc/callback",
        "group_map": {"huren-cq-clerk": ("clerk@CQ",)},
        **config,
    }
    http = httpx.AsyncClient(transport=httpx.MockTransport(provider.answer))
    return OidcRelyingParty(OidcConfig(**settings), http)


def make_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "wang.clerk",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def sign_claims(claims: dict[str, Any], key: RSAKey = SIGNING_KEY, kid: str | None = "k1") -> str:
    header = {"alg": "RS256", **({"kid": kid} if kid else {})}
    return jwt.encode(header, claims, key)


def encode_segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def collect_refusal(provider: FakeProvider, token: str) -> str:
    with pytest.raises(OidcError) as refused:
        await make_party(provider).validate_id_token(token, nonce=NONCE)
    assert token not in str(refused.value)
    return refused.value.reason


async def test_a_well_formed_token_is_accepted() -> None:
    claims = await make_party(FakeProvider()).validate_id_token(sign_claims(make_claims()), nonce=NONCE)
    assert claims["sub"] == "wang.clerk"


@dataclass(frozen=True)
class FromNow:
    """A time claim this many seconds from when the test runs."""

    seconds: int


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "someone-else"}, "the ID token's 'aud' claim is wrong"),
        ({"aud": None}, "the ID token's 'aud' claim is missing"),
        ({"iss": "https://evil.test"}, "the ID token's 'iss' claim is wrong"),
        ({"nonce": "another-nonce"}, "the ID token's 'nonce' claim is wrong"),
        ({"nonce": None}, "the ID token's 'nonce' claim is missing"),
        ({"exp": FromNow(-120)}, "the ID token has expired"),
        ({"iat": FromNow(600)}, "the ID token's 'iat' claim is wrong"),
        ({"sub": None}, "the ID token's 'sub' claim is missing"),
        # Several audiences: the token must say it was issued to us (azp).
        ({"aud": [CLIENT_ID, "someone-else"]}, "the ID token's 'azp' claim is missing"),
        ({"aud": [CLIENT_ID, "someone-else"], "azp": "someone-else"}, "the ID token's 'azp' claim is wrong"),
    ],
)
async def test_wrong_claims_are_refused(changes: dict[str, Any], reason: str) -> None:
    # Times are made when the test runs: made at collection, a suite longer than ten minutes had turned the
    # future 'iat' into a past one by the time this ran.
    now = int(time.time())
    made = {k: now + v.seconds if isinstance(v, FromNow) else v for k, v in changes.items()}
    assert await collect_refusal(FakeProvider(), sign_claims(make_claims(**made))) == reason


async def test_several_audiences_with_us_as_authorized_party_are_accepted() -> None:
    token = sign_claims(make_claims(aud=[CLIENT_ID, "someone-else"], azp=CLIENT_ID))
    claims = await make_party(FakeProvider()).validate_id_token(token, nonce=NONCE)
    assert claims["azp"] == CLIENT_ID


async def test_a_little_clock_skew_is_tolerated() -> None:
    now = int(time.time())
    token = sign_claims(make_claims(iat=now + 30, exp=now - 30))
    assert (await make_party(FakeProvider()).validate_id_token(token, nonce=NONCE))["sub"] == "wang.clerk"


async def test_a_known_kid_with_another_keys_signature_is_refused() -> None:
    assert await collect_refusal(FakeProvider(), sign_claims(make_claims(), key=OTHER_KEY)) == (
        "the ID token's signature does not verify"
    )


async def test_an_unknown_kid_refetches_the_keys_once_then_is_refused() -> None:
    provider = FakeProvider()
    reason = await collect_refusal(provider, sign_claims(make_claims(), key=NEXT_KEY, kid="k2"))
    assert reason == "the ID token is signed with a key the provider does not publish"
    assert provider.calls.count("/jwks") == 2


async def test_a_rotated_key_is_picked_up_by_the_refetch() -> None:
    provider = FakeProvider()
    party = make_party(provider)
    await party.validate_id_token(sign_claims(make_claims()), nonce=NONCE)  # the keys are cached now
    provider.keys = [SIGNING_KEY, NEXT_KEY]
    claims = await party.validate_id_token(sign_claims(make_claims(), key=NEXT_KEY, kid="k2"), nonce=NONCE)
    assert claims["sub"] == "wang.clerk"
    assert provider.calls.count("/jwks") == 2
    await party.validate_id_token(sign_claims(make_claims()), nonce=NONCE)
    assert provider.calls.count("/jwks") == 2


async def test_an_unsigned_token_is_refused() -> None:
    unsigned = f"{encode_segment({'alg': 'none', 'typ': 'JWT'})}.{encode_segment(make_claims())}."
    assert await collect_refusal(FakeProvider(), unsigned) == (
        "the ID token is signed with an algorithm huren does not accept"
    )


@pytest.mark.parametrize("advertised", [["RS256"], ["RS256", "HS256"]])
async def test_a_token_keyed_with_the_client_secret_is_refused(advertised: list[str]) -> None:
    """HS256 with the client secret as key: refused even where the provider lists HS256."""
    token = jwt.encode(
        {"alg": "HS256"}, make_claims(), OctKey.import_key(CLIENT_SECRET.encode()), algorithms=["HS256"]
    )
    provider = FakeProvider(document=make_discovery(id_token_signing_alg_values_supported=advertised))
    assert (
        await collect_refusal(provider, token)
        == "the ID token is signed with an algorithm huren does not accept"
    )


@pytest.mark.parametrize("token", ["not-a-token", "a.b.c", f"{encode_segment({'alg': 'RS256'})}.e30.c2ln"])
async def test_garbage_is_refused(token: str) -> None:
    assert await collect_refusal(FakeProvider(), token) in {
        "the ID token is malformed",
        "the ID token's signature does not verify",
    }


async def test_a_provider_that_signs_only_with_hmac_is_refused_at_discovery() -> None:
    """Authlib insists on RS256 being listed; our own check stands behind it, since an empty list of allowed
    algorithms would let joserfc fall back to its recommended ones, HS256 among them."""
    provider = FakeProvider(document=make_discovery(id_token_signing_alg_values_supported=["HS256"]))
    with pytest.raises(OidcError, match=r"discovery document is invalid|no algorithm huren accepts"):
        await make_party(provider).discover()


async def test_a_discovery_document_of_another_issuer_is_refused() -> None:
    provider = FakeProvider(document=make_discovery(issuer="https://evil.test"))
    with pytest.raises(OidcError, match="names another issuer"):
        await make_party(provider).discover()


async def test_plain_http_is_refused_away_from_loopback() -> None:
    insecure = "http://idp.test"
    provider = FakeProvider(
        document=make_discovery(issuer=insecure, authorization_endpoint=f"{insecure}/auth")
    )
    with pytest.raises(OidcError, match="discovery document is invalid"):
        await make_party(provider, issuer=insecure).discover()


def with_test_nonce(start: LoginStart) -> LoginStart:
    return LoginStart(url=start.url, state=start.state, nonce=NONCE, code_verifier=start.code_verifier)


async def test_userinfo_about_someone_else_is_refused() -> None:
    """Groups only in userinfo: its `sub` must be the ID token's, or it is someone else's answer."""
    provider = FakeProvider(
        token_answer={"id_token": sign_claims(make_claims()), "access_token": "at", "token_type": "Bearer"},
        userinfo={"sub": "zhang.admin", "groups": ["huren-cq-clerk"]},
    )
    party = make_party(provider)
    start = with_test_nonce(await party.start_login())
    with pytest.raises(OidcError, match="about someone else"):
        await party.finish_login(code="c", state=start.state, expected=start)
    provider.userinfo["sub"] = "wang.clerk"
    identity = await party.finish_login(code="c", state=start.state, expected=start)
    assert (identity.roles, identity.regions) == (frozenset({"clerk"}), frozenset({"CQ"}))


async def test_a_token_answer_without_an_id_token_is_refused() -> None:
    provider = FakeProvider(token_answer={"access_token": "at", "token_type": "Bearer"})
    party = make_party(provider)
    start = with_test_nonce(await party.start_login())
    with pytest.raises(OidcError, match="lacks an ID token"):
        await party.finish_login(code="c", state=start.state, expected=start)


async def test_an_empty_kept_state_matches_nothing() -> None:
    """A browser session that kept no sign-in must not pass the state check with an empty `state`."""
    provider = FakeProvider()
    kept = LoginStart(url="", state="", nonce=NONCE, code_verifier="v" * 43)
    with pytest.raises(OidcError, match="does not match the sign-in this browser started"):
        await make_party(provider).finish_login(code="c", state="", expected=kept)
    assert provider.calls == []
