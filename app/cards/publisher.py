"""Publishing a region's status lists: built from the registry, signed as W3C credentials, kept per process.

A list is rebuilt when its region's revision moved (every card status change bumps it in the change's own
transaction) or when the signed copy is older than the ttl; otherwise the signed copy is served as it is.
Revocation covers every terminal state a QR token must stop proving (revoked, cancelled, transferred,
superseded); suspension covers suspended.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.cards.status_list import MIN_ENTRIES, Bitstring
from app.cards.tokens import status_list_url
from app.cards.vc_jose import sign_vc_jwt
from app.db import Transactions
from app.keys import KeyStore
from app.models import Credential, StatusList, StatusListEntry

PURPOSES = ("revocation", "suspension")
STATUSES_OF_PURPOSE = {
    "revocation": ("revoked", "cancelled", "transferred", "superseded"),
    "suspension": ("suspended",),
}
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"


@dataclass(frozen=True)
class Published:
    region: str
    purpose: str
    revision: int
    bits: Bitstring
    token: str
    etag: str
    built_at: datetime
    built_monotonic: float
    build_seconds: float


def status_list_credential(
    *,
    url: str,
    issuer: str,
    purpose: str,
    encoded: str,
    built_at: datetime,
    ttl: timedelta,
    valid_for: timedelta,
) -> dict[str, Any]:
    """A BitstringStatusListCredential (W3C VC 2.0); `ttl` is in milliseconds, as the spec says."""
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": built_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "validUntil": (built_at + valid_for).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded,
            "ttl": int(ttl.total_seconds() * 1000),
        },
    }


class StatusListPublisher:
    def __init__(
        self, *, reads: Transactions, keys: KeyStore, issuer: str, ttl: timedelta, valid_for: timedelta
    ) -> None:
        self.reads, self.keys, self.issuer, self.ttl, self.valid_for = reads, keys, issuer, ttl, valid_for
        self.cache: dict[tuple[str, str], Published] = {}
        self.locks: dict[tuple[str, str], asyncio.Lock] = {}

    def invalidate(self, region: str) -> None:
        for purpose in PURPOSES:
            self.cache.pop((region, purpose), None)

    def cached(self, region: str, purpose: str) -> Published | None:
        """The copy in memory while younger than its ttl (what card-token checks use: W3C caching rules)."""
        found = self.cache.get((region, purpose))
        if found is not None and time.monotonic() - found.built_monotonic < self.ttl.total_seconds():
            return found
        return None

    async def current(self, region: str, purpose: str) -> Published:
        """The list as of now: rebuilt if the region's revision moved or the signed copy aged past the ttl."""
        key = (region, purpose)
        async with self.locks.setdefault(key, asyncio.Lock()):  # one build at a time per list
            async with self.reads() as conn:
                row = (
                    await conn.execute(
                        select(StatusList.revision, StatusList.capacity).where(
                            StatusList.region_code == region
                        )
                    )
                ).first()
                revision, capacity = (row.revision, row.capacity) if row is not None else (0, MIN_ENTRIES)
                found = self.cached(region, purpose)
                if found is not None and found.revision == revision:
                    return found
                started = time.perf_counter()
                indices = (
                    await conn.execute(
                        select(StatusListEntry.list_index)
                        .join(Credential, Credential.id == StatusListEntry.credential_id)
                        .where(
                            StatusListEntry.region_code == region,
                            Credential.status.in_(STATUSES_OF_PURPOSE[purpose]),
                        )
                    )
                ).scalars()
                bits = Bitstring(capacity)
                bits.set_many(indices)
            published = self.sign(region, purpose, revision, bits, started)
            self.cache[key] = published
            return published

    def sign(self, region: str, purpose: str, revision: int, bits: Bitstring, started: float) -> Published:
        built_at = datetime.now(UTC).replace(microsecond=0)
        url = status_list_url(self.issuer, region, purpose)
        credential = status_list_credential(
            url=url,
            issuer=self.issuer,
            purpose=purpose,
            encoded=bits.encode(),
            built_at=built_at,
            ttl=self.ttl,
            valid_for=self.valid_for,
        )
        kid, private_key = self.keys.signing_key()
        token = sign_vc_jwt(credential, private_key, kid)
        etag = '"' + hashlib.sha256(token.encode()).hexdigest()[:32] + '"'
        return Published(
            region,
            purpose,
            revision,
            bits,
            token,
            etag,
            built_at,
            time.monotonic(),
            time.perf_counter() - started,
        )
