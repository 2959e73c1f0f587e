"""Single sign-on: huren as an OpenID Connect relying party (authorization code flow with PKCE).

Framework-free and stateless between the two legs of a sign-in: `start_login` hands back what the caller
keeps in the browser session (state, nonce, PKCE verifier), and `finish_login` takes it back with the code.
The protocol is Authlib's (request building, client authentication, ID token claims) and joserfc's (signature
and keys); what is ours is the policy: which algorithms, which audience, and how groups become huren roles.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata, get_well_known_url
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

ROLES = frozenset({"admin", "clerk", "auditor"})
REGIONS = frozenset({"SC", "CQ"})
# Public-key signatures only: an HS256 ID token would be keyed with the client secret, which proves nothing
# about the provider, and `none` proves nothing at all. The provider's own list is intersected with this.
SIGNING_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "Ed25519"}
)
CLOCK_LEEWAY_SECONDS = 60
FORM_HEADERS = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
# What a provider's error code may look like to be repeated in a message (RFC 6749 allows more, we show less).
SHOWN_ERROR_CODE = re.compile(r"[a-z_]{1,40}")


class OidcError(Exception):
    """A sign-in that cannot go on. The reason is safe to show a person: never a token, code or secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    group_map: Mapping[str, tuple[str, ...]]
    claim: str = "groups"

    def __post_init__(self) -> None:
        # A bad grant fails at start-up, not at the first sign-in of someone in that group.
        for grants in self.group_map.values():
            for grant in grants:
                split_grant(grant)


@dataclass(frozen=True)
class LoginStart:
    url: str
    state: str
    nonce: str
    code_verifier: str = field(repr=False)


class PendingLogin(Protocol):
    """What the caller kept of a LoginStart between the two legs (the URL is not needed back)."""

    @property
    def state(self) -> str: ...
    @property
    def nonce(self) -> str: ...
    @property
    def code_verifier(self) -> str: ...


@dataclass(frozen=True)
class OidcIdentity:
    subject: str
    username: str
    display_name: str
    roles: frozenset[str]
    regions: frozenset[str]


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of a validated discovery document that the relying party uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    scopes: frozenset[str]
    token_auth_method: str
    signing_algorithms: frozenset[str]
    sends_issuer: bool  # RFC 9207: the authorization response carries `iss`


def split_grant(grant: str) -> tuple[str, str]:
    role, at, region = grant.partition("@")
    if not at or role not in ROLES or region not in REGIONS:
        raise ValueError(
            f"grant {grant!r} is not role@REGION, with a role among {sorted(ROLES)} and a region among "
            f"{sorted(REGIONS)}"
        )
    return role, region


def parse_group_map(text: str) -> dict[str, tuple[str, ...]]:
    """Read HUREN_OIDC_GROUP_MAP: a JSON object from group name to a list of grants like "clerk@CQ"."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"HUREN_OIDC_GROUP_MAP is not JSON: {error.msg} at character {error.pos}") from None
    if not isinstance(data, dict):
        raise ValueError(
            'HUREN_OIDC_GROUP_MAP must be a JSON object such as {"huren-cq-clerk": ["clerk@CQ"]}'
        )
    group_map: dict[str, tuple[str, ...]] = {}
    for group, grants in data.items():
        if not group or not isinstance(grants, list) or not grants:
            raise ValueError(f"HUREN_OIDC_GROUP_MAP: group {group!r} needs a non-empty list of grants")
        if not all(isinstance(grant, str) for grant in grants):
            raise ValueError(f"HUREN_OIDC_GROUP_MAP: the grants of group {group!r} must be strings")
        for grant in grants:
            split_grant(grant)
        group_map[group] = tuple(grants)
    return group_map


def map_grants(claims: Mapping[str, Any], config: OidcConfig) -> tuple[frozenset[str], frozenset[str]]:
    """The roles and regions that the person's groups (the configured claim) are granted."""
    value = claims.get(config.claim)
    if value is None:
        groups: list[str] = []
    elif isinstance(value, str):
        groups = [value]  # some providers send a lone group as a plain string
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        groups = value
    else:
        raise OidcError(f"the provider's {config.claim!r} claim is neither a string nor a list of strings")
    grants = [split_grant(grant) for group in groups for grant in config.group_map.get(group, ())]
    return frozenset(role for role, _ in grants), frozenset(region for _, region in grants)


def read_identity(claims: Mapping[str, Any], config: OidcConfig) -> OidcIdentity:
    roles, regions = map_grants(claims, config)
    if not roles:
        raise OidcError("no huren role is granted to this person")
    subject = str(claims["sub"])
    username = read_text_claim(claims, "preferred_username") or subject
    return OidcIdentity(
        subject=subject,
        username=username,
        display_name=read_text_claim(claims, "name") or username,
        roles=roles,
        regions=regions,
    )


def read_text_claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


def read_metadata(document: dict[str, Any], issuer: str) -> ProviderMetadata:
    """Check a discovery document (Authlib: required members, https but on loopback) and pick what we use."""
    if document.get("issuer") != issuer:
        raise OidcError("the provider's discovery document names another issuer")
    metadata = OpenIDProviderMetadata(document)
    try:
        metadata.validate()
    except ValueError as error:
        raise OidcError(f"the provider's discovery document is invalid: {error}") from error
    # RFC 8414: a provider that lists no methods accepts client_secret_basic.
    methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = next((m for m in ("client_secret_basic", "client_secret_post") if m in methods), None)
    if method is None:
        raise OidcError("the provider accepts no client secret at its token endpoint")
    algorithms = SIGNING_ALGORITHMS & set(document["id_token_signing_alg_values_supported"])
    if not algorithms:
        raise OidcError("the provider signs ID tokens with no algorithm huren accepts")
    # Authlib lets a document without response types needing one omit the authorization endpoint; we need it.
    endpoints = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    if not all(isinstance(document.get(name), str) for name in endpoints):
        raise OidcError("the provider's discovery document lacks an endpoint of the code flow")
    userinfo = document.get("userinfo_endpoint")
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        userinfo_endpoint=userinfo if isinstance(userinfo, str) else None,
        scopes=frozenset(document.get("scopes_supported") or ()),
        token_auth_method=method,
        signing_algorithms=frozenset(algorithms),
        sends_issuer=document.get("authorization_response_iss_parameter_supported") is True,
    )


def describe_token_error(error: JoseError) -> str:
    """A safe reason for a refused ID token: joserfc's own messages may quote the token's header."""
    if isinstance(error, InvalidKeyIdError):
        return "the ID token is signed with a key the provider does not publish"
    if isinstance(error, BadSignatureError):
        return "the ID token's signature does not verify"
    if isinstance(error, UnsupportedAlgorithmError):
        return "the ID token is signed with an algorithm huren does not accept"
    if isinstance(error, ExpiredTokenError):
        return "the ID token has expired"
    if isinstance(error, ClaimError) and error.claim.isidentifier():
        problem = "missing" if error.error == "missing_claim" else "wrong"
        return f"the ID token's {error.claim!r} claim is {problem}"
    return "the ID token is malformed"


def quote_error_code(payload: object, status: int) -> str:
    """The OAuth error code of a refusal (e.g. invalid_grant), or its HTTP status; never its description."""
    code = payload.get("error") if isinstance(payload, dict) else None
    return code if isinstance(code, str) and SHOWN_ERROR_CODE.fullmatch(code) else f"HTTP {status}"


class OidcRelyingParty:
    """One provider, one client. The HTTP client is the caller's: its timeouts and transport apply to every
    call (discovery, keys, token, userinfo). Discovery and keys are cached; keys are fetched again once when
    an ID token names a key the cache lacks (the provider rotated its keys)."""

    def __init__(self, config: OidcConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self._http = http
        self._metadata: ProviderMetadata | None = None
        self._keys: KeySet | None = None

    async def discover(self) -> ProviderMetadata:
        if self._metadata is None:
            url = get_well_known_url(self.config.issuer, external=True)
            document = await self._fetch_json("GET", url, what="discovery document")
            self._metadata = read_metadata(document, self.config.issuer)
        return self._metadata

    async def start_login(self) -> LoginStart:
        metadata = await self.discover()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(64)  # 86 characters of RFC 7636's alphabet (43 to 128 allowed)
        scopes = ["openid", "profile"]
        if self.config.claim in metadata.scopes and self.config.claim not in scopes:
            scopes.append(self.config.claim)  # providers that gate groups behind a scope of the same name
        url = prepare_grant_uri(
            metadata.authorization_endpoint,
            client_id=self.config.client_id,
            response_type="code",
            redirect_uri=self.config.redirect_uri,
            scope=scopes,
            state=state,
            nonce=nonce,
            # types-authlib leaves this one and ClientAuth.prepare unannotated.
            code_challenge=create_s256_code_challenge(code_verifier),  # type: ignore[no-untyped-call]
            code_challenge_method="S256",
        )
        return LoginStart(url=url, state=state, nonce=nonce, code_verifier=code_verifier)

    async def finish_login(
        self, *, code: str, state: str, expected: PendingLogin, issuer: str | None = None
    ) -> OidcIdentity:
        """The callback's `code`, `state` and (when the provider sends it, RFC 9207) `iss` parameters."""
        if not expected.state or not secrets.compare_digest(state.encode(), expected.state.encode()):
            raise OidcError("the sign-in answer does not match the sign-in this browser started")
        metadata = await self.discover()
        if issuer != metadata.issuer and (issuer is not None or metadata.sends_issuer):
            raise OidcError("the sign-in answer does not come from the configured provider")
        tokens = await self._redeem_code(metadata, code, expected.code_verifier)
        claims = await self.validate_id_token(
            tokens["id_token"], nonce=expected.nonce, access_token=tokens["access_token"]
        )
        if self.config.claim not in claims and metadata.userinfo_endpoint is not None:
            userinfo = await self._fetch_userinfo(metadata.userinfo_endpoint, tokens["access_token"])
            if userinfo.get("sub") != claims["sub"]:
                raise OidcError("the provider's userinfo is about someone else")
            claims = {**userinfo, **claims}  # what the signed ID token says wins
        return read_identity(claims, self.config)

    async def validate_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """The ID token's claims once its signature, issuer, audience, times and nonce are checked."""
        metadata = await self.discover()
        registry = JWSRegistry(algorithms=sorted(metadata.signing_algorithms), strict_check_header=False)
        try:
            try:
                token = jwt.decode(id_token, await self._load_keys(refresh=False), registry=registry)
            except InvalidKeyIdError:
                token = jwt.decode(id_token, await self._load_keys(refresh=True), registry=registry)
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "value": metadata.issuer},
                    "aud": {"essential": True, "value": self.config.client_id},
                },
                # With several audiences, Authlib requires `azp` to be our client id.
                {"nonce": nonce, "client_id": self.config.client_id, "access_token": access_token},
            )
            claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
        except JoseError as error:
            raise OidcError(describe_token_error(error)) from error
        except ValueError as error:  # joserfc's compact parsing of a string that is no JWS at all
            raise OidcError("the ID token is malformed") from error
        return dict(claims)

    async def _redeem_code(self, metadata: ProviderMetadata, code: str, code_verifier: str) -> dict[str, str]:
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=self.config.redirect_uri,
            code_verifier=code_verifier,
        )
        auth = ClientAuth(self.config.client_id, self.config.client_secret, metadata.token_auth_method)
        prepared = auth.prepare("POST", metadata.token_endpoint, dict(FORM_HEADERS), body)  # type: ignore[no-untyped-call]
        url, headers, body = prepared
        payload = await self._fetch_json("POST", url, what="token endpoint", headers=headers, content=body)
        tokens = {name: payload.get(name) for name in ("id_token", "access_token", "token_type")}
        if not all(isinstance(value, str) for value in tokens.values()):
            raise OidcError("the provider's token answer lacks an ID token or access token")
        return {name: str(value) for name, value in tokens.items()}

    async def _fetch_userinfo(self, url: str, access_token: str) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Authorization": f"Bearer {access_token}"}
        return await self._fetch_json("GET", url, what="userinfo", headers=headers)

    async def _load_keys(self, *, refresh: bool) -> KeySet:
        if self._keys is None or refresh:
            metadata = await self.discover()
            document = await self._fetch_json("GET", metadata.jwks_uri, what="key set")
            try:
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError) as error:
                raise OidcError("the provider's key set could not be read") from error
        return self._keys

    async def _fetch_json(self, method: str, url: str, *, what: str, **request: Any) -> dict[str, Any]:
        """One call to the provider; any failure becomes an OidcError that names the call, never its body."""
        try:
            response = await self._http.request(method, url, **request)
        except httpx.HTTPError as error:
            raise OidcError(f"the provider's {what} could not be reached") from error
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_error:
            reason = quote_error_code(payload, response.status_code)
            raise OidcError(f"the provider's {what} refused the request ({reason})")
        if not isinstance(payload, dict):
            raise OidcError(f"the provider's {what} answered without a JSON object")
        return payload
