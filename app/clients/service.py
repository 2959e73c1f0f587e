"""Clients: registration with a slow-hashed secret, and client authentication for the token endpoint."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.errors import DomainError
from app.domain.uscc import validate_uscc
from app.errors import AppError, Conflict, NotFound, invalid_field
from app.models import Client, Region, UsedAssertion
from app.passwords import hash_secret, secret_matches_hash
from app.security import (
    ALL_SCOPES,
    FORBIDDEN_HEADER_MEMBERS,
    LEEWAY_SECONDS,
    OWN_TYPS,
    InvalidToken,
    read_header,
)

ASSERTION_ALGORITHMS = ("ES256", "ES384", "PS256", "RS256", "EdDSA")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# RFC 7523 sets no limit; one hour is what standard client libraries (Authlib) sign by default. Each jti is
# still accepted once, and kept until its assertion expires.
MAX_ASSERTION_LIFETIME = 3600


class OAuthError(AppError):
    """RFC 6749 §5.2 errors, as problem+json that also carries `error` and `error_description`."""

    def __init__(self, error: str, description: str, status: int = 400, **extra: Any) -> None:
        super().__init__(description, error=error, error_description=description, **extra)
        self.error = error
        self.status, self.slug, self.title = status, error.replace("_", "-"), "OAuth 2.0 error"


def invalid_client(description: str = "client authentication failed", *, basic: bool = False) -> OAuthError:
    """RFC 6749 §5.2: 401 with a Basic challenge only to a client that authenticated with Basic; any other
    client gets 400, since a Basic challenge makes a browser open its own password dialog over the page."""
    if basic:
        return OAuthError(
            "invalid_client", description, 401, headers={"WWW-Authenticate": 'Basic realm="huren"'}
        )
    return OAuthError("invalid_client", description, 400)


def parse_scopes(raw: str) -> list[str]:
    scopes = raw.split()
    unknown = sorted(set(scopes) - ALL_SCOPES)
    if unknown or not scopes:
        raise invalid_field("scopes", "scope.unknown", f"unknown scopes: {' '.join(unknown) or '(none)'}")
    return sorted(set(scopes))


def check_jwks(jwks: dict[str, Any]) -> dict[str, Any]:
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise invalid_field("jwks", "jwks.empty", "a JWKS with at least one key")
    for index, key in enumerate(keys):
        try:
            if not isinstance(key, dict) or "d" in key or key.get("kty") == "oct":
                raise ValueError
            jwt.PyJWK(key)
        except (ValueError, jwt.PyJWTError, TypeError):
            raise invalid_field(f"jwks.keys.{index}", "jwks.key", "not a public asymmetric key") from None
    return {"keys": keys}


def make_client_id(region: str, name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "client"
    return f"{region.lower()}-{slug}-{secrets.token_hex(4)}"


async def create_client(
    session: AsyncSession,
    *,
    name: str,
    region: str,
    scopes: str,
    rate_limit_per_minute: int | None = None,
    org_name: str | None = None,
    org_usci: str | None = None,
    jwks: dict[str, Any] | None = None,
    client_id: str | None = None,
    secret: str | None = None,
) -> tuple[Client, str]:
    """Register a client; returns it with its secret, which is not stored and cannot be shown again."""
    if await session.get(Region, region) is None:
        raise invalid_field("region", "region.unknown", "no such region")
    if org_usci:
        try:
            org_usci = validate_uscc(org_usci)
        except DomainError as exc:
            raise invalid_field("org_usci", exc.code, exc.message) from None
    secret = secret or secrets.token_urlsafe(32)
    client = Client(
        client_id=client_id or make_client_id(region, name),
        name=name,
        org_name=org_name,
        org_usci=org_usci,
        region_code=region,
        scopes=" ".join(parse_scopes(scopes)),
        secret_hash=hash_secret(secret),
        jwks=check_jwks(jwks) if jwks else None,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    try:
        async with session.begin_nested():
            session.add(client)
    except IntegrityError:
        raise Conflict("a client with this client_id exists") from None
    return client, secret


async def list_clients(session: AsyncSession) -> Sequence[Client]:
    return (await session.scalars(select(Client).order_by(Client.id))).all()


async def disable_client(session: AsyncSession, client_id: str) -> Client:
    client = await session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        raise NotFound("no such client")
    client.disabled_at = client.disabled_at or datetime.now(UTC)
    await session.flush()
    return client


class SecretCache:
    """Remembers, per process and for a few minutes, which (client, secret) pairs passed Argon2, so a busy
    client does not pay 20 ms per token. Keyed by a hash of the secret: the cache never holds a secret."""

    def __init__(self, ttl: float = 300.0, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self.entries: dict[tuple[str, str], float] = {}

    def key(self, client: Client, secret: str) -> tuple[str, str]:
        material = f"{client.secret_hash}\x1f{secret}".encode()
        return client.client_id, hashlib.sha256(material).hexdigest()

    def check(self, client: Client, secret: str) -> bool:
        expires = self.entries.get(self.key(client, secret))
        return expires is not None and expires > time.monotonic()

    def remember(self, client: Client, secret: str) -> None:
        if len(self.entries) >= self.size:
            self.entries.clear()
        self.entries[self.key(client, secret)] = time.monotonic() + self.ttl


def secret_matches(client: Client, secret: str, cache: SecretCache) -> bool:
    if client.secret_hash is None:
        return False
    if cache.check(client, secret):
        return True
    # Argon2id is ~20 ms: a verified secret is remembered (see SecretCache).
    if not secret_matches_hash(client.secret_hash, secret):
        return False
    cache.remember(client, secret)
    return True


@dataclass(frozen=True)
class ClientCredentials:
    method: str
    client_id: str | None
    secret: str | None = None
    assertion: str | None = None


async def find_active_client(session: AsyncSession, client_id: str | None) -> Client:
    if not client_id or len(client_id) > 64:
        raise invalid_client()
    client = await session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None or client.disabled_at is not None:
        raise invalid_client()
    return client


@dataclass(frozen=True)
class AuthenticatedClient:
    client: Client
    method: str
    # For private_key_jwt: the jti and expiry to consume once every other check has passed.
    assertion_jti: tuple[str, datetime] | None = None


async def authenticate_client(
    session: AsyncSession, credentials: ClientCredentials, *, cache: SecretCache, audiences: Sequence[str]
) -> AuthenticatedClient:
    if credentials.method == "private_key_jwt":
        assert credentials.assertion is not None
        return await authenticate_by_assertion(
            session, credentials.assertion, credentials.client_id, audiences
        )
    client = await find_active_client(session, credentials.client_id)
    if credentials.secret is None or not secret_matches(client, credentials.secret, cache):
        raise invalid_client()
    return AuthenticatedClient(client, credentials.method)


def assertion_key(client: Client, header: dict[str, Any]) -> Any:
    keys = (client.jwks or {}).get("keys", [])
    kid = header.get("kid")
    candidates = [k for k in keys if kid is None or k.get("kid") == kid]
    if len(candidates) != 1:
        raise invalid_client("no single registered key matches the assertion's kid")
    return jwt.PyJWK(candidates[0], algorithm=header.get("alg")).key


async def authenticate_by_assertion(
    session: AsyncSession, assertion: str, client_id: str | None, audiences: Sequence[str]
) -> AuthenticatedClient:
    """RFC 7523 private_key_jwt: signed by a key the client registered, aimed at us, short-lived, once."""
    try:
        header = read_header(assertion, None)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except (InvalidToken, jwt.PyJWTError):
        raise invalid_client("the client assertion is malformed") from None
    alg, typ = header.get("alg"), str(header.get("typ", "")).lower().removeprefix("application/")
    if alg not in ASSERTION_ALGORITHMS or typ in OWN_TYPS or FORBIDDEN_HEADER_MEMBERS & header.keys():
        raise invalid_client("the client assertion's header is not accepted")
    issuer = unverified.get("iss")
    if client_id is not None and issuer != client_id:
        raise invalid_client("the assertion was issued by another client")
    client = await find_active_client(session, issuer if isinstance(issuer, str) else None)
    try:
        claims = jwt.decode(
            assertion,
            assertion_key(client, header),
            algorithms=[str(alg)],
            audience=list(audiences),
            issuer=client.client_id,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "jti"]},
        )
    except (jwt.PyJWTError, ValueError):
        raise invalid_client("the client assertion is not valid") from None
    if claims["sub"] != client.client_id:
        raise invalid_client("the assertion's subject is not the client")
    expires = datetime.fromtimestamp(float(claims["exp"]), UTC)
    if expires - datetime.now(UTC) > timedelta(seconds=MAX_ASSERTION_LIFETIME + LEEWAY_SECONDS):
        raise invalid_client("the client assertion lives too long (one hour at most)")
    jti = str(claims["jti"])
    if len(jti) > 200:
        raise invalid_client("jti too long")
    return AuthenticatedClient(client, "private_key_jwt", (jti, expires))


async def consume_jti(session: AsyncSession, client_id: str, jti: str, expires: datetime) -> None:
    """Record the jti with the token's own transaction, as the last check before the token is made.

    The primary key lets exactly one of parallel replays through: on PostgreSQL the later inserts wait for the
    first to commit and then fail; on SQLite writers are serialised. Nothing after this point can fail in a
    way that would roll the jti back and leave the assertion usable.
    """
    try:
        async with session.begin_nested():
            await session.execute(
                delete(UsedAssertion).where(
                    UsedAssertion.expires_at < datetime.now(UTC) - timedelta(seconds=LEEWAY_SECONDS)
                )
            )
            await session.execute(
                insert(UsedAssertion).values(client_id=client_id, jti=jti, expires_at=expires)
            )
    except IntegrityError:
        raise invalid_client("the client assertion was already used") from None


def grant_scopes(client: Client, requested: str | None) -> list[str]:
    allowed = set(client.scopes.split())
    if requested is None or not requested.strip():
        return sorted(allowed)
    wanted = set(requested.split())
    if not wanted <= allowed:
        raise OAuthError("invalid_scope", "the client may not have some of the requested scopes")
    return sorted(wanted)
