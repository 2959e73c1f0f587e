"""The relying party against a real OpenID provider (oidc-provider, tests/oidc), signing people in through its
development pages: discovery, the whole code flow with PKCE, groups to roles, and the refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.people.oidc import LoginStart, OidcConfig, OidcError, OidcIdentity, OidcRelyingParty
from tests.support.oidc_provider import run_oidc_provider, sign_in_at_provider

pytestmark = pytest.mark.slow

CLIENT_ID = "huren-test"
CLIENT_SECRET = "huren-test-client-secret"
REDIRECT_URI = "http://127.0.0.1:9/auth/oidc/callback"  # never reached: the sign-in stops at the redirect
GROUP_MAP = {"huren-cq-clerk": ("clerk@CQ",), "huren-sc-admin": ("admin@SC", "auditor@CQ")}


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with run_oidc_provider(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI
    ) as url:
        yield url


def make_config(issuer: str, **changes: Any) -> OidcConfig:
    config = OidcConfig(
        issuer=issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        group_map=GROUP_MAP,
    )
    return replace(config, **changes)


class Recorder:
    """The requests the relying party sent, by path."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.paths.append(request.url.path)


@pytest.fixture
def sent() -> Recorder:
    return Recorder()


@pytest.fixture
async def party(issuer: str, sent: Recorder) -> AsyncIterator[OidcRelyingParty]:
    async with httpx.AsyncClient(timeout=10, event_hooks={"request": [sent]}) as http:
        yield OidcRelyingParty(make_config(issuer), http)


async def sign_in(party: OidcRelyingParty, login: str) -> tuple[LoginStart, dict[str, str]]:
    """Start a sign-in, let `login` sign in at the provider; the parameters the callback would receive."""
    start = await party.start_login()
    with httpx.Client(timeout=10) as browser:
        callback = await asyncio.to_thread(sign_in_at_provider, browser, start.url, login)
    assert callback.startswith(REDIRECT_URI)
    return start, {name: values[0] for name, values in parse_qs(urlsplit(callback).query).items()}


async def finish(party: OidcRelyingParty, start: LoginStart, answer: dict[str, str]) -> OidcIdentity:
    return await party.finish_login(
        code=answer["code"], state=answer["state"], expected=start, issuer=answer.get("iss")
    )


async def test_discovery_reads_the_provider(party: OidcRelyingParty, issuer: str) -> None:
    metadata = await party.discover()
    assert metadata.issuer == issuer
    assert metadata.token_endpoint.startswith(issuer)
    assert metadata.userinfo_endpoint is not None
    assert metadata.token_auth_method == "client_secret_basic"
    assert metadata.signing_algorithms == {"RS256"}
    assert metadata.sends_issuer


async def test_the_authorization_request_uses_pkce_and_asks_for_groups(party: OidcRelyingParty) -> None:
    start = await party.start_login()
    query = {name: values[0] for name, values in parse_qs(urlsplit(start.url).query).items()}
    assert query["code_challenge_method"] == "S256"
    assert start.code_verifier not in start.url
    assert query["scope"].split() == ["openid", "profile", "groups"]
    assert (query["state"], query["nonce"]) == (start.state, start.nonce)
    other = await party.start_login()
    assert {other.state, other.nonce, other.code_verifier}.isdisjoint({start.state, start.nonce})


async def test_a_clerk_signs_in(party: OidcRelyingParty, sent: Recorder) -> None:
    start, answer = await sign_in(party, "wang.clerk")
    identity = await finish(party, start, answer)
    assert identity == OidcIdentity(
        subject="wang.clerk",
        username="wang.clerk",
        display_name="王小明",
        roles=frozenset({"clerk"}),
        regions=frozenset({"CQ"}),
    )
    # By default the provider keeps groups out of the ID token of a code flow: they came from userinfo.
    assert sent.paths[-1] == "/me"


async def test_several_grants_are_merged(party: OidcRelyingParty) -> None:
    identity = await finish(party, *await sign_in(party, "zhang.admin"))
    assert identity.display_name == "张伟"
    assert (identity.roles, identity.regions) == (frozenset({"admin", "auditor"}), frozenset({"SC", "CQ"}))


async def test_groups_in_the_id_token_need_no_userinfo(sent: Recorder) -> None:
    with run_oidc_provider(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI, groups_in_id_token=True
    ) as issuer:
        async with httpx.AsyncClient(timeout=10, event_hooks={"request": [sent]}) as http:
            party = OidcRelyingParty(make_config(issuer), http)
            identity = await finish(party, *await sign_in(party, "wang.clerk"))
    assert (identity.display_name, identity.roles) == ("王小明", frozenset({"clerk"}))
    assert "/me" not in sent.paths


async def test_a_person_without_a_mapped_group_is_refused(party: OidcRelyingParty) -> None:
    start, answer = await sign_in(party, "li.norole")
    with pytest.raises(OidcError) as refused:
        await finish(party, start, answer)
    assert refused.value.reason == "no huren role is granted to this person"


async def test_a_state_mismatch_is_refused_before_the_code_is_redeemed(
    party: OidcRelyingParty, sent: Recorder
) -> None:
    start, answer = await sign_in(party, "wang.clerk")
    other = await party.start_login()  # the browser's session holds a different sign-in
    with pytest.raises(OidcError, match="does not match the sign-in this browser started"):
        await finish(party, other, answer)
    assert "/token" not in sent.paths
    # The code was not spent: the right browser session still signs in with it.
    assert (await finish(party, start, answer)).username == "wang.clerk"


async def test_the_pkce_verifier_is_checked_by_the_provider(party: OidcRelyingParty) -> None:
    start, answer = await sign_in(party, "wang.clerk")
    forged = replace(start, code_verifier=(await party.start_login()).code_verifier)
    with pytest.raises(OidcError) as refused:
        await finish(party, forged, answer)
    assert refused.value.reason == "the provider's token endpoint refused the request (invalid_grant)"
    for secret in (answer["code"], start.code_verifier, forged.code_verifier, CLIENT_SECRET):
        assert secret not in str(refused.value)


async def test_a_wrong_client_secret_is_refused(issuer: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        party = OidcRelyingParty(make_config(issuer, client_secret="not-the-secret"), http)
        start, answer = await sign_in(party, "wang.clerk")
        with pytest.raises(OidcError) as refused:
            await finish(party, start, answer)
    assert refused.value.reason == "the provider's token endpoint refused the request (invalid_client)"
    assert "not-the-secret" not in str(refused.value)


@pytest.mark.parametrize("iss", [None, "http://127.0.0.1:1"])
async def test_an_answer_without_the_providers_iss_is_refused(
    party: OidcRelyingParty, iss: str | None
) -> None:
    """The provider says it sends `iss` (RFC 9207): an answer without it, or with another, is not its own."""
    start, answer = await sign_in(party, "wang.clerk")
    with pytest.raises(OidcError, match="does not come from the configured provider"):
        await party.finish_login(code=answer["code"], state=answer["state"], expected=start, issuer=iss)
