"""The node's signing keys: made on first start, encrypted at rest, rotated without breaking old signatures.

Every process keeps the keys in memory and re-reads the table every `key_refresh_seconds`, or at once (at most
once a second) when a token names a kid it does not know: a rotation done by one worker or the CLI reaches the
others without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwt.algorithms import ECAlgorithm
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Transactions
from app.jws import ES256
from app.models import SigningKey

SIGNING_ALG = ES256  # the one algorithm of every token this node signs (app/security.py)
UNKNOWN_KID_COOLDOWN_SECONDS = 1.0


def make_kid(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: the kid names the key itself, so it cannot collide across nodes."""
    canonical = json.dumps({k: public_jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")


def wrap_private_key(data_key: bytes, kid: str, pem: bytes) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(data_key).encrypt(nonce, pem, kid.encode())
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode()


def open_private_key(data_key: bytes, kid: str, token: str) -> ec.EllipticCurvePrivateKey:
    version, _, payload = token.partition(":")
    if version != "v1":
        raise ValueError("unknown key cipher version")
    raw = base64.urlsafe_b64decode(payload)
    pem = AESGCM(data_key).decrypt(raw[:12], raw[12:], kid.encode())
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC key")
    return key


def new_signing_key(data_key: bytes) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    kid = make_kid(jwk)
    jwk.update(kid=kid, alg=SIGNING_ALG, use="sig")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningKey(
        kid=kid,
        alg=SIGNING_ALG,
        private_key_cipher=wrap_private_key(data_key, kid, pem),
        public_jwk=jwk,
        created_at=datetime.now(UTC),
    )


async def ensure_signing_key(session: AsyncSession, data_key: bytes) -> bool:
    """Create the first key if there is none; True when one was made."""
    if await session.scalar(select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1)):
        return False
    session.add(new_signing_key(data_key))
    await session.flush()
    return True


async def rotate_signing_key(session: AsyncSession, data_key: bytes) -> SigningKey:
    """A new current key; the old ones are retired from signing but stay published."""
    now = datetime.now(UTC)
    for key in (await session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None)))).all():
        key.retired_at = now
    key = new_signing_key(data_key)
    session.add(key)
    await session.flush()
    return key


@dataclass
class KeyStore:
    data_key: bytes
    refresh_seconds: float
    current_kid: str | None = None
    private_key: ec.EllipticCurvePrivateKey | None = None
    public_keys: dict[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    loaded_at: float = 0.0
    last_miss_refresh: float = 0.0

    async def load(self, transactions: Transactions) -> None:
        async with transactions() as conn:
            keys = (await conn.execute(select(SigningKey.__table__).order_by(SigningKey.created_at))).all()
        current = [k for k in keys if k.retired_at is None]
        if not current:
            raise RuntimeError("no signing key: run `huren db upgrade`")
        newest = current[-1]
        self.private_key = open_private_key(self.data_key, newest.kid, newest.private_key_cipher)
        self.current_kid = newest.kid
        publics: dict[str, ec.EllipticCurvePublicKey] = {}
        for key in keys:
            public = ECAlgorithm.from_jwk(json.dumps(key.public_jwk))
            assert isinstance(public, ec.EllipticCurvePublicKey)
            publics[key.kid] = public
        self.public_keys = publics
        # Newest first: verifiers try the current key before the history.
        self.jwks = {"keys": [dict(k.public_jwk) for k in reversed(keys)]}
        self.loaded_at = time.monotonic()

    async def refresh_if_stale(self, transactions: Transactions) -> None:
        if time.monotonic() - self.loaded_at >= self.refresh_seconds:
            await self.load(transactions)

    async def find_public_key(self, transactions: Transactions, kid: str) -> ec.EllipticCurvePublicKey | None:
        key = self.public_keys.get(kid)
        if key is None and time.monotonic() - self.last_miss_refresh >= UNKNOWN_KID_COOLDOWN_SECONDS:
            # An unknown kid may be a key another process just made; a forger gets one reload a second.
            self.last_miss_refresh = time.monotonic()
            await self.load(transactions)
            key = self.public_keys.get(kid)
        return key

    def signing_key(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        if self.current_kid is None or self.private_key is None:
            raise RuntimeError("keys not loaded")
        return self.current_kid, self.private_key
