"""Copies of the peers' card-checking material (their JWKS and status lists), kept fresh in the background.

So a counter here keeps checking the peer's cards while the peer is unreachable: a copy is used until its own
`validUntil`, and every answer says how old the copy behind it is. A list is accepted only with a valid
signature from the peer's key, naming the URL that the peer's card tokens point at.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select

from app.cards.publisher import PURPOSES
from app.cards.status_list import Bitstring
from app.cards.tokens import status_list_url
from app.cards.vc_jose import verify_vc_jwt
from app.db import Transactions
from app.federation.client import Peer, PeerClient
from app.models import PeerDocument

log = logging.getLogger("huren.federation")


@dataclass(frozen=True)
class ListCopy:
    bits: Bitstring
    fetched_at: datetime
    valid_until: datetime | None
    ttl_seconds: float


class PeerMirror:
    def __init__(
        self, client: PeerClient, refresh_seconds: float, transactions: Transactions | None = None
    ) -> None:
        self.client, self.refresh_seconds, self.transactions = client, refresh_seconds, transactions
        self.lists: dict[str, ListCopy] = {}
        self.jwks: dict[str, dict[str, Any]] = {}  # issuer -> the JWKS last fetched from it
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.client.peers and self.task is None:
            self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def run(self) -> None:
        await self.load_saved()
        while True:
            for peer in self.client.peers.values():
                await self.refresh_peer(peer)
            await asyncio.sleep(self.next_wait())

    def next_wait(self) -> float:
        # Within every list's ttl, but no busier than once a second.
        ttls = [copy.ttl_seconds for copy in self.lists.values()]
        return max(1.0, min([self.refresh_seconds, *ttls]))

    async def refresh_peer(self, peer: Peer) -> None:
        try:
            if not peer.keys.pinned:
                await peer.keys.refresh()
                await self.save(jwks_key(peer), json.dumps(peer.keys.jwks), datetime.now(UTC))
            self.jwks[peer.issuer] = peer.keys.jwks
            for purpose in PURPOSES:
                await self.refresh_list(peer, purpose)
            if self.client.metrics is not None:
                self.client.metrics.peer_copies_refreshed.labels(peer.region).set_to_current_time()
        except Exception as exc:  # any failure, expected or not, must not stop the refresh loop for good
            # Keep the copies we have: they stay usable until their validUntil, and answers show their age.
            log.warning("peer %s: refresh failed (%s); keeping copies", peer.region, exc)

    async def refresh_list(self, peer: Peer, purpose: str) -> None:
        fetched = await self.client.get_text(f"{peer.base_url}/v1/status-lists/{peer.region}/{purpose}")
        now = datetime.now(UTC)
        self.accept_list(peer, purpose, fetched, now)
        await self.save(status_list_url(peer.issuer, peer.region, purpose), fetched, now)

    def accept_list(self, peer: Peer, purpose: str, token: str, fetched_at: datetime) -> None:
        """Keep a signed list (fetched now, or saved earlier) once its signature and identity hold."""
        credential = verify_vc_jwt(token, self.jwks.get(peer.issuer) or peer.keys.jwks)
        expected = status_list_url(peer.issuer, peer.region, purpose)
        subject = credential.get("credentialSubject")
        if not isinstance(subject, dict):
            raise ValueError("the status list credential has no single subject")
        issuer = credential.get("issuer")
        if (
            credential.get("id") != expected
            or issuer != peer.issuer
            or subject.get("statusPurpose") != purpose
        ):
            raise ValueError("the status list is not the one the peer's tokens point at")
        until = credential.get("validUntil")
        self.lists[expected] = ListCopy(
            bits=Bitstring.decode(str(subject.get("encodedList", ""))),
            fetched_at=fetched_at,
            valid_until=datetime.fromisoformat(until.replace("Z", "+00:00"))
            if isinstance(until, str)
            else None,
            ttl_seconds=float(subject.get("ttl", 300_000)) / 1000,
        )

    async def save(self, url: str, body: str, fetched_at: datetime) -> None:
        """Keep the copy in the database too: a node restarted while its peer is down still has it."""
        if self.transactions is None:
            return
        async with self.transactions() as conn:
            await conn.execute(delete(PeerDocument).where(PeerDocument.url == url))
            await conn.execute(insert(PeerDocument).values(url=url, body=body, fetched_at=fetched_at))

    async def load_saved(self) -> None:
        """The copies saved by an earlier run, checked again exactly as if just fetched."""
        if self.transactions is None:
            return
        async with self.transactions() as conn:
            saved = {row.url: row for row in (await conn.execute(select(PeerDocument))).all()}
        for peer in self.client.peers.values():
            try:
                jwks_doc = saved.get(jwks_key(peer))
                if jwks_doc is not None and not peer.keys.pinned:
                    self.jwks[peer.issuer] = json.loads(jwks_doc.body)
                elif peer.keys.pinned:
                    self.jwks[peer.issuer] = peer.keys.jwks
                for purpose in PURPOSES:
                    list_doc = saved.get(status_list_url(peer.issuer, peer.region, purpose))
                    if list_doc is not None and peer.issuer in self.jwks:
                        self.accept_list(peer, purpose, list_doc.body, list_doc.fetched_at)
            except Exception as exc:  # a bad saved copy is dropped; the loop fetches fresh ones
                log.warning("peer %s: a saved copy was refused (%s)", peer.region, exc)

    def material_for(self, issuer: str) -> tuple[dict[str, Any], dict[str, Bitstring], float] | None:
        """The issuer's JWKS, usable copies of its lists and the age of the oldest; None without them."""
        peer = self.client.peer_by_issuer(issuer)
        if peer is None:
            return None
        jwks = peer.keys.jwks if peer.keys.pinned else self.jwks.get(issuer)
        now = datetime.now(UTC)
        usable = {
            url: copy
            for url, copy in self.lists.items()
            if url.startswith(f"{issuer}/") and (copy.valid_until is None or copy.valid_until > now)
        }
        if not jwks or len(usable) < len(PURPOSES):
            return None
        oldest = min(copy.fetched_at for copy in usable.values())
        return jwks, {url: copy.bits for url, copy in usable.items()}, (now - oldest).total_seconds()


def jwks_key(peer: Peer) -> str:
    return f"{peer.issuer}#jwks"
