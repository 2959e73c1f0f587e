"""Inbound federation: who may call /v1/federation/*, checked from the caller's own signed assertion.

Only configured peers: the assertion's issuer must be a peer's issuer URL, its key must be in that peer's
JWKS (fetched from its trust anchor and kept; a new kid fetches at most once per cooldown), `aud` must be
this node, `typ` huren-peer+jwt, a lifetime of at most a few minutes, and its jti is accepted once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from app.db import Transactions
from app.errors import Unauthorized
from app.federation.client import PeerClient, PeerFailure
from app.models import UsedAssertion
from app.security import LEEWAY_SECONDS, PEER_ASSERTION, Principal, matches_typ, read_header

MAX_LIFETIME_SECONDS = 300
# What the audit and replay tables can hold: anything else is refused before it reaches them.
CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
JTI = re.compile(r"[A-Za-z0-9._:-]{1,200}")


class PeerAuthenticator:
    def __init__(self, *, peers: PeerClient, own_issuer: str, transactions: Transactions) -> None:
        self.peers, self.own_issuer, self.transactions = peers, own_issuer.rstrip("/"), transactions

    async def principal_for(self, token: str) -> Principal:
        try:
            header = read_header(token, frozenset({"alg", "typ", "kid"}))
            unverified = jwt.decode(token, options={"verify_signature": False})
        except Exception:
            raise Unauthorized("the peer assertion is malformed") from None
        if header.get("alg") != "ES256" or not matches_typ(header, PEER_ASSERTION.typ):
            raise Unauthorized("not a peer assertion")
        peer = self.peers.peer_by_issuer(str(unverified.get("iss", "")))
        if peer is None:
            raise Unauthorized("the assertion is not from a configured peer")
        try:
            key = await peer.keys.key_for(header.get("kid"))
        except (PeerFailure, ValueError):
            raise Unauthorized("the peer's keys could not be fetched") from None
        if key is None:
            raise Unauthorized("the assertion is signed by a key the peer does not publish")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["ES256"],
                audience=self.own_issuer,
                issuer=peer.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": list(PEER_ASSERTION.required_claims), "strict_aud": True},
            )
        except jwt.PyJWTError:
            raise Unauthorized("the peer assertion is not valid") from None
        if int(claims["exp"]) - int(claims["iat"]) > MAX_LIFETIME_SECONDS:
            raise Unauthorized("the peer assertion lives too long")
        # The peer speaks for its own region's clients only.
        obo, jti = claims.get("obo"), claims.get("jti")
        if (
            claims.get("caller_region") != peer.region
            or not isinstance(obo, str)
            or not CLIENT_ID.fullmatch(obo)
        ):
            raise Unauthorized("the peer assertion names no client of the peer's region")
        if not isinstance(jti, str) or not JTI.fullmatch(jti):
            raise Unauthorized("the peer assertion's jti is not acceptable")
        await self.consume_jti(f"peer:{peer.region}", str(claims["jti"]), int(claims["exp"]))
        return Principal(client_id=claims["obo"], region=peer.region, scopes=frozenset({"verify"}))

    async def consume_jti(self, owner: str, jti: str, exp: int) -> None:
        expires = datetime.fromtimestamp(exp, UTC)
        try:
            async with self.transactions() as conn:
                await conn.execute(
                    delete(UsedAssertion).where(
                        UsedAssertion.expires_at < datetime.now(UTC) - timedelta(seconds=LEEWAY_SECONDS)
                    )
                )
                await conn.execute(insert(UsedAssertion).values(client_id=owner, jti=jti, expires_at=expires))
        except IntegrityError:
            raise Unauthorized("the peer assertion was already used") from None
