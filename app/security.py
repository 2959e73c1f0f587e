"""Tokens and callers: one place decides each token kind's algorithm, typ, issuer, audience and lifetime.

RFC 8725 practice: one asymmetric algorithm (ES256) for every token this node signs, an explicit `typ`
per kind so that an access token is never accepted as a receipt (or the reverse), required `iss`, `aud`,
`exp` and `jti`, and `kid` resolved only against keys in our own key table. Header members that point
elsewhere for a key (`jku`, `x5u`, `jwk`, `x5c`) and any `crit` extension are refused outright.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from app.db import Transactions
from app.errors import Forbidden, Unauthorized
from app.jws import sign_es256
from app.keys import SIGNING_ALG, KeyStore
from app.models import Client
from app.services import services_of


class SecurityServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def authenticator(self) -> Authenticator: ...

    @property
    def staff_sessions(self) -> SessionResolver: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


def services(request: Request) -> SecurityServices:
    view: SecurityServices = services_of(request)
    return view


ALL_SCOPES = frozenset(
    {
        "verify",
        "registry:read",
        "registry:write",
        "cards:issue",
        "admin",
        "audit:read",
        "federation",
        "metrics",
    }
)
MAX_TOKEN_LENGTH = 8192
LEEWAY_SECONDS = 30
OWN_HEADER_MEMBERS = frozenset({"alg", "typ", "kid"})
FORBIDDEN_HEADER_MEMBERS = frozenset({"crit", "jku", "x5u", "jwk", "x5c"})


@dataclass(frozen=True)
class TokenKind:
    name: str
    typ: str
    required_claims: tuple[str, ...]


ACCESS_TOKEN = TokenKind("access", "at+jwt", ("iss", "aud", "sub", "exp", "iat", "jti", "scope"))
RECEIPT = TokenKind("receipt", "huren-receipt+jwt", ("iss", "aud", "exp", "iat", "jti"))
CARD_TOKEN = TokenKind("card", "huren-card+jwt", ("iss", "aud", "exp", "iat", "jti"))
PEER_ASSERTION = TokenKind("peer", "huren-peer+jwt", ("iss", "aud", "sub", "exp", "iat", "jti"))
TOKEN_KINDS = (ACCESS_TOKEN, RECEIPT, CARD_TOKEN, PEER_ASSERTION)
OWN_TYPS = frozenset(kind.typ for kind in TOKEN_KINDS)


class InvalidToken(Exception):
    """Why a token was refused; the reason is logged-safe and shown to the caller."""


def encode_token(kind: TokenKind, claims: Mapping[str, Any], keys: KeyStore) -> str:
    kid, private_key = keys.signing_key()
    return sign_es256(claims, private_key, typ=kind.typ, kid=kid)


def read_header(token: str, allowed_members: frozenset[str] | None) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("token too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("malformed token") from None
    if FORBIDDEN_HEADER_MEMBERS & header.keys():
        raise InvalidToken("header members crit, jku, x5u, jwk and x5c are not accepted")
    if allowed_members is not None and not header.keys() <= allowed_members:
        raise InvalidToken("unexpected header members")
    return header


def matches_typ(header: Mapping[str, Any], typ: str) -> bool:
    value = header.get("typ")
    # RFC 8725 §3.11: compare case-insensitively, with or without the "application/" prefix.
    return isinstance(value, str) and value.lower().removeprefix("application/") == typ


async def decode_token(
    kind: TokenKind, token: str, *, keys: KeyStore, transactions: Transactions, issuer: str, audience: str
) -> dict[str, Any]:
    """Verify one of this node's own tokens of the given kind, or raise InvalidToken."""
    header = read_header(token, OWN_HEADER_MEMBERS)
    if header.get("alg") != SIGNING_ALG:
        raise InvalidToken("algorithm not allowed")
    if not matches_typ(header, kind.typ):
        raise InvalidToken(f"not a {kind.name} token")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidToken("kid missing")
    public_key = await keys.find_public_key(transactions, kid)
    if public_key is None:
        raise InvalidToken("unknown key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=[SIGNING_ALG],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": list(kind.required_claims), "strict_aud": True},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.PyJWTError:
        raise InvalidToken("token not valid") from None
    return claims


def new_jti() -> str:
    return secrets.token_hex(16)  # 128 random bits as uuid4 has, a fifth of its cost


@dataclass(frozen=True)
class Person:
    """A member of staff signed in through a browser session."""

    username: str
    display_name: str
    method: str  # "password" or "oidc"
    roles: tuple[str, ...]
    regions: tuple[str, ...]
    session_key: str  # the session record's key (a hash of the cookie, never the cookie itself)
    csrf_token: str


@dataclass(frozen=True)
class Principal:
    """Who is calling: a machine client (by its token), or a person (by a staff session; `person` set)."""

    client_id: str
    region: str
    scopes: frozenset[str]
    rate_limit_per_minute: int | None = None
    person: Person | None = None

    @property
    def budget_key(self) -> str:
        """Whose rate-limit budget a request spends: each person's own, or the client's."""
        return f"person:{self.person.username}" if self.person else f"client:{self.client_id}"


class SessionResolver(Protocol):
    """Finds the person behind a session cookie (app.people.sessions); here as a protocol so that security,
    below the features, can accept a session wherever it accepts a token."""

    @property
    def cookie_name(self) -> str: ...

    async def principal_for(self, token: str, now: datetime) -> Principal: ...


@dataclass
class ClientState:
    disabled: bool
    rate_limit_per_minute: int | None
    fetched_at: float


class Authenticator:
    """Checks access tokens. Verified tokens are cached until they expire (an ECDSA check per request would be
    the largest cost of a look-up); a client's disabled flag is re-read at most every `client_ttl` seconds."""

    def __init__(
        self,
        *,
        keys: KeyStore,
        transactions: Transactions,
        issuer: str,
        cache_size: int = 10_000,
        client_ttl: float = 15.0,
    ) -> None:
        self.keys, self.transactions, self.issuer = keys, transactions, issuer
        self.cache: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()
        self.cache_size, self.client_ttl = cache_size, client_ttl
        self.clients: dict[str, ClientState] = {}

    async def principal_for(self, token: str) -> Principal:
        claims = await self.verified_claims(token)
        client_id = str(claims["sub"])
        state = await self.client_state(client_id)
        if state is None or state.disabled:
            raise Unauthorized("the client is disabled")
        scopes = frozenset(str(claims["scope"]).split())
        return Principal(client_id, str(claims.get("region", "")), scopes, state.rate_limit_per_minute)

    async def verified_claims(self, token: str) -> dict[str, Any]:
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached = self.cache.get(digest)
        now = time.time()
        if cached is not None and cached[1] > now:
            self.cache.move_to_end(digest)
            return cached[0]
        try:
            await self.keys.refresh_if_stale(self.transactions)
            claims = await decode_token(
                ACCESS_TOKEN,
                token,
                keys=self.keys,
                transactions=self.transactions,
                issuer=self.issuer,
                audience=self.issuer,
            )
        except InvalidToken as exc:
            raise Unauthorized(f"the access token is not valid: {exc}") from None
        self.cache[digest] = (claims, float(claims["exp"]))
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return claims

    async def client_state(self, client_id: str) -> ClientState | None:
        state = self.clients.get(client_id)
        if state is not None and time.monotonic() - state.fetched_at < self.client_ttl:
            return state
        async with self.transactions() as conn:
            row = (
                await conn.execute(
                    select(Client.disabled_at, Client.rate_limit_per_minute).where(
                        Client.client_id == client_id
                    )
                )
            ).first()
        if row is None:
            return None
        state = ClientState(row.disabled_at is not None, row.rate_limit_per_minute, time.monotonic())
        self.clients[client_id] = state
        return state

    def forget_client(self, client_id: str) -> None:
        self.clients.pop(client_id, None)


bearer_scheme = HTTPBearer(auto_error=False, description="An access token from POST /oauth/token")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    if credentials is not None:
        if credentials.scheme.lower() != "bearer":
            raise Unauthorized("a bearer access token is required")
        return await principal_of(request, credentials.credentials)
    return await session_principal_of(request)


async def principal_of(request: Request, token: str) -> Principal:
    authenticator: Authenticator = services(request).authenticator
    principal = await authenticator.principal_for(token)
    request.state.principal = principal
    return principal


async def session_principal_of(request: Request) -> Principal:
    """The person behind the request's session cookie. A request that changes state must also carry the
    session's CSRF token in X-CSRF-Token: a cookie alone is sent by the browser whoever asks it to."""
    view = services(request)
    resolver: SessionResolver = view.staff_sessions
    token = request.cookies.get(resolver.cookie_name)
    if not token:
        raise Unauthorized("a bearer access token or a staff session is required")
    principal = await resolver.principal_for(token, view.clock())
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        person = principal.person
        if person is None or not hmac.compare_digest(sent.encode(), person.csrf_token.encode()):
            raise Forbidden(
                "a request made with the session cookie that changes state needs the X-CSRF-Token header",
                code="session.csrf",
            )
    request.state.principal = principal
    return principal


async def authenticate_bearer(request: Request) -> Principal:
    """`authenticate` as a plain call, for the hot routes that skip FastAPI's dependency solving."""
    header = request.headers.get("authorization")
    if header is None:
        return await session_principal_of(request)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("a bearer access token is required")
    return await principal_of(request, token)


def check_scope(principal: Principal, scope: str) -> Principal:
    if scope not in principal.scopes:
        raise Forbidden(f"this route needs the scope {scope}", required_scope=scope)
    return principal


def require_scope(scope: str, *alternatives: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting a caller that holds `scope` (or any of the alternatives)."""
    accepted = (scope, *alternatives)
    unknown = set(accepted) - ALL_SCOPES
    if unknown:
        raise ValueError(f"unknown scope {sorted(unknown)}")

    async def scoped(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.scopes & set(accepted):
            return check_scope(principal, scope)
        return principal

    return scoped


def utc_timestamp() -> int:
    return int(datetime.now(UTC).timestamp())


RegistryReader = Annotated[Principal, Depends(require_scope("registry:read"))]
RegistryWriter = Annotated[Principal, Depends(require_scope("registry:write"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
