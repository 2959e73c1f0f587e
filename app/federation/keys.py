"""A peer's public keys: its JWKS fetched from its trust anchor (or pinned in the settings) and kept.

Keys are re-fetched every `refresh_seconds`; a kid this node has not seen triggers at most one fetch per
`miss_cooldown_seconds`, so a stream of tokens with made-up kids cannot turn into a stream of fetches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt

JwksFetcher = Callable[[str], Awaitable[dict[str, Any]]]


class PeerKeys:
    def __init__(
        self,
        *,
        anchor: str | dict[str, Any],
        fetch: JwksFetcher,
        refresh_seconds: float = 300.0,
        miss_cooldown_seconds: float = 10.0,
    ) -> None:
        self.anchor, self.fetch = anchor, fetch
        self.refresh_seconds, self.miss_cooldown_seconds = refresh_seconds, miss_cooldown_seconds
        self.jwks: dict[str, Any] = anchor if isinstance(anchor, dict) else {"keys": []}
        self.fetched_at: float | None = None
        self.last_miss_fetch = -miss_cooldown_seconds
        self.last_failure = -miss_cooldown_seconds
        self.lock = asyncio.Lock()

    @property
    def pinned(self) -> bool:
        return isinstance(self.anchor, dict)

    async def refresh(self) -> None:
        if isinstance(self.anchor, str):
            fetched = await self.fetch(self.anchor)
            if not isinstance(fetched.get("keys"), list):
                raise ValueError("the peer's JWKS has no keys list")
            self.jwks, self.fetched_at = fetched, time.monotonic()

    async def current(self) -> dict[str, Any]:
        """The JWKS, fetched first when never fetched or older than refresh_seconds.

        One fetch at a time; a failed fetch waits out the miss cooldown before the next try, and meanwhile the
        last good keys stay in use (a peer that is down must not turn every check into a timeout).
        """
        stale = self.fetched_at is None or time.monotonic() - self.fetched_at >= self.refresh_seconds
        if self.pinned or not stale or time.monotonic() - self.last_failure < self.miss_cooldown_seconds:
            return self.jwks
        async with self.lock:
            if self.fetched_at is None or time.monotonic() - self.fetched_at >= self.refresh_seconds:
                try:
                    await self.refresh()
                except Exception:
                    self.last_failure = time.monotonic()
                    if not self.jwks.get("keys"):
                        raise  # nothing to fall back on
        return self.jwks

    async def key_for(self, kid: Any) -> Any | None:
        """The verification key for `kid`, after at most one extra fetch when the kid is new."""
        jwks = await self.current()
        found = find_ec_key(jwks, kid)
        recently = time.monotonic() - self.last_miss_fetch < self.miss_cooldown_seconds
        if found is None and not self.pinned and not recently:
            self.last_miss_fetch = time.monotonic()
            await self.refresh()
            found = find_ec_key(self.jwks, kid)
        return found


def find_ec_key(jwks: dict[str, Any], kid: Any) -> Any | None:
    for jwk in jwks.get("keys", []):
        if not isinstance(kid, str) or not isinstance(jwk, dict) or "d" in jwk:
            continue
        if jwk.get("kid") == kid and jwk.get("kty") == "EC":
            try:
                return jwt.PyJWK(jwk, algorithm="ES256").key
            except jwt.PyJWTError:
                return None
    return None
