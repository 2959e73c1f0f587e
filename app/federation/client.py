"""Calling peer nodes: one HTTP client per process, bounded in time and size; no answer trusted unchecked.

- Explicit connect and read timeouts; redirects are not followed (a peer's answer comes from the peer).
- A connection that cannot be made is retried once (nothing reached the peer); a request that may have
  reached it is not, since each verification leaves an audit event there.
- Bodies are read as a stream and abandoned past `max_response_bytes`.
- A circuit breaker per peer stops calling a peer that keeps failing, so waits do not pile up.
- The node proves itself with a short-lived assertion (typ huren-peer+jwt) signed by its own key, with
  aud = the peer and a single-use jti; the peer's answer must carry a receipt signed by the peer's key
  (from its JWKS) for exactly the credential asked about, to exactly the client asking.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from pydantic import ValidationError

from app.errors import AppError
from app.federation.breaker import CircuitBreaker
from app.federation.keys import PeerKeys
from app.keys import KeyStore
from app.metrics import RequestMetrics
from app.security import PEER_ASSERTION, RECEIPT, Principal, encode_token, matches_typ, new_jti
from app.settings import Settings
from app.verification.schemas import VerifyAnswer, VerifyIn
from app.verification.service import reference_of

log = logging.getLogger("huren.federation")
ASSERTION_SECONDS = 60
# Few, kept-alive connections: httpcore checks every pooled connection on every request (a socket poll each),
# so a large pool costs more per call than the queueing it saves; a closed one costs a handshake instead.
POOL_LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=30)
RECEIPT_LEEWAY_SECONDS = 30
MAX_BATCH = 1000  # what /v1/federation/verify/batch takes
MAX_IN_FLIGHT = 4  # concurrent calls per client and peer


class PeerUnavailable(AppError):
    status, slug, title = 503, "peer-unavailable", "Peer unavailable"


class PeerFailure(Exception):
    """Why one call to a peer failed; becomes peer-unavailable for the items it carried."""


@dataclass
class Peer:
    region: str
    base_url: str
    issuer: str
    keys: PeerKeys
    breaker: CircuitBreaker


@dataclass
class Lane:
    """The queue of one client's items for one peer."""

    peer: Peer
    caller: Principal
    queue: deque[tuple[VerifyIn, asyncio.Future[VerifyAnswer]]] = field(default_factory=deque)
    in_flight: int = 0


class PeerClient:
    def __init__(
        self,
        settings: Settings,
        keys: KeyStore,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: RequestMetrics | None = None,
    ) -> None:
        self.own_issuer, self.keys, self.metrics = settings.public_url.rstrip("/"), keys, metrics
        self.max_bytes = settings.peer_max_response_bytes
        self.total_seconds = settings.peer_connect_timeout_seconds + 2 * settings.peer_read_timeout_seconds
        timeout = httpx.Timeout(
            connect=settings.peer_connect_timeout_seconds,
            read=settings.peer_read_timeout_seconds,
            write=settings.peer_read_timeout_seconds,
            pool=settings.peer_connect_timeout_seconds,
        )
        self.http = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            transport=transport or httpx.AsyncHTTPTransport(retries=1, limits=POOL_LIMITS),
            # Identity encoding: the size cap counts what was sent, not what a compressed body inflates to.
            headers={"User-Agent": "huren-node", "Accept-Encoding": "identity"},
        )
        self.peers: dict[str, Peer] = {}
        self.lanes: dict[tuple[str, str, str], Lane] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        for region, base_url in settings.peers.items():
            anchor = settings.peer_jwks.get(region, f"{base_url.rstrip('/')}/.well-known/jwks.json")
            self.peers[region] = Peer(
                region=region,
                base_url=base_url.rstrip("/"),
                issuer=settings.peer_issuer(region),
                keys=PeerKeys(
                    anchor=anchor, fetch=self.get_json, refresh_seconds=settings.peer_refresh_seconds
                ),
                breaker=CircuitBreaker(
                    settings.peer_breaker_failures, settings.peer_breaker_cooldown_seconds
                ),
            )

    async def close(self) -> None:
        await self.http.aclose()

    def peer_by_issuer(self, issuer: str) -> Peer | None:
        return next((peer for peer in self.peers.values() if peer.issuer == issuer), None)

    async def read_body(self, response: httpx.Response) -> bytes:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise PeerFailure("the answer is larger than allowed")
        return bytes(body)

    async def exchange(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
        try:
            # httpx's timeouts bound each read; this bounds the whole call (a peer trickling bytes).
            async with asyncio.timeout(self.total_seconds):
                async with self.http.stream(method, url, **kwargs) as response:
                    return response, await self.read_body(response)
        except (httpx.TimeoutException, TimeoutError):
            raise PeerFailure("the peer did not answer in time") from None
        except httpx.HTTPError:
            raise PeerFailure("the peer could not be reached") from None

    async def get_json(self, url: str) -> dict[str, Any]:
        """A JSON document (a JWKS) from a peer, with the same bounds as every other call."""
        response, body = await self.exchange("GET", url)
        if response.status_code != 200:
            raise PeerFailure(f"the peer answered {response.status_code}")
        return parse_object(body)

    async def get_text(self, url: str) -> str:
        response, body = await self.exchange("GET", url)
        if response.status_code != 200:
            raise PeerFailure(f"the peer answered {response.status_code}")
        return body.decode("utf-8", errors="strict")

    def assertion(self, peer: Peer, caller: Principal) -> str:
        now = datetime.now(UTC)
        claims = {
            "iss": self.own_issuer,
            "sub": self.own_issuer,
            "aud": peer.issuer,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=ASSERTION_SECONDS)).timestamp()),
            "jti": new_jti(),
            # On whose behalf: the peer binds its receipts to this client and answers for this region.
            "obo": caller.client_id,
            "caller_region": caller.region,
        }
        return encode_token(PEER_ASSERTION, claims, self.keys)

    async def verify_items(self, region: str, items: list[VerifyIn], caller: Principal) -> list[VerifyAnswer]:
        """The peer's checked answers for items of its region, in order; PeerUnavailable if there are none.

        Items from concurrent requests of one client travel together: each call to a peer costs this node more
        in HTTP client work than the peer's look-up costs there, so while calls are in flight, new items queue
        and leave as one batch (up to MAX_BATCH) as soon as a call slot frees up.
        """
        peer = self.peers[region]
        if not peer.breaker.allows():
            self.count(region, "paused", peer)
            raise PeerUnavailable(f"the node of region {region} is failing; calls are paused", region=region)
        key = (region, caller.client_id, caller.region)
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lanes[key] = Lane(peer, caller)
        loop = asyncio.get_running_loop()
        waiting = [loop.create_future() for _ in items]
        lane.queue.extend(zip(items, waiting, strict=True))
        while lane.in_flight < MAX_IN_FLIGHT and lane.queue:
            lane.in_flight += 1
            task = asyncio.create_task(self.drain(lane))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return list(await asyncio.gather(*(asyncio.shield(f) for f in waiting)))

    async def drain(self, lane: Lane) -> None:
        try:
            while lane.queue:
                batch = [lane.queue.popleft() for _ in range(min(MAX_BATCH, len(lane.queue)))]
                items = [item for item, _ in batch]
                started = time.perf_counter()
                try:
                    answers = await self.call_verify(lane.peer, items, lane.caller)
                except Exception as exc:  # whatever went wrong, every waiter gets an answer: never a hang
                    lane.peer.breaker.record_failure()
                    self.count(lane.peer.region, "failed", lane.peer, time.perf_counter() - started)
                    reason = exc if isinstance(exc, PeerFailure) else "the answer could not be processed"
                    detail = f"the node of region {lane.peer.region} gave no usable answer: {reason}"
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(PeerUnavailable(detail, region=lane.peer.region))
                    if not isinstance(exc, PeerFailure):
                        log.warning("peer %s: unexpected failure %s", lane.peer.region, type(exc).__name__)
                    continue
                lane.peer.breaker.record_success()
                self.count(lane.peer.region, "ok", lane.peer, time.perf_counter() - started)
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
        finally:
            lane.in_flight -= 1

    def count(self, region: str, result: str, peer: Peer, seconds: float | None = None) -> None:
        if self.metrics is None:
            return
        self.metrics.peer_calls.labels(region, result).inc()
        if seconds is not None:
            self.metrics.peer_seconds.labels(region).observe(seconds)
        self.metrics.peer_circuit_open.labels(region).set(1 if peer.breaker.state == "open" else 0)

    async def call_verify(self, peer: Peer, items: list[VerifyIn], caller: Principal) -> list[VerifyAnswer]:
        body = {"items": [item.model_dump(mode="json", exclude_none=True) for item in items]}
        headers = {"Authorization": f"Bearer {self.assertion(peer, caller)}"}
        response, raw = await self.exchange(
            "POST", f"{peer.base_url}/v1/federation/verify/batch", json=body, headers=headers
        )
        if response.status_code != 200:
            raise PeerFailure(f"the peer answered {response.status_code}")
        document = parse_object(raw)
        results = document.get("results")
        if not isinstance(results, list) or len(results) != len(items):
            raise PeerFailure("the answer does not hold one result per item")
        answers = []
        for item, result in zip(items, results, strict=True):
            try:
                answer = VerifyAnswer.model_validate(result)
            except ValidationError:
                raise PeerFailure("an answer does not have the verification schema") from None
            await self.check_receipt(peer, item, answer, caller)
            answers.append(answer)
        return answers

    async def check_receipt(
        self, peer: Peer, item: VerifyIn, answer: VerifyAnswer, caller: Principal
    ) -> None:
        """The receipt must be the peer's, for this credential, this client and this very outcome."""
        try:
            header = jwt.get_unverified_header(answer.receipt)
        except jwt.PyJWTError:
            raise PeerFailure("the receipt is malformed") from None
        if header.get("alg") != "ES256" or not matches_typ(header, RECEIPT.typ):
            raise PeerFailure("the receipt is not a receipt")
        try:
            key = await peer.keys.key_for(header.get("kid"))
        except (PeerFailure, ValueError):
            raise PeerFailure("the peer's keys could not be fetched") from None
        if key is None:
            raise PeerFailure("the receipt is signed by a key the peer does not publish")
        try:
            claims = jwt.decode(
                answer.receipt,
                key,
                algorithms=["ES256"],
                audience=caller.client_id,
                issuer=peer.issuer,
                leeway=RECEIPT_LEEWAY_SECONDS,
                options={"require": list(RECEIPT.required_claims), "strict_aud": True},
            )
        except jwt.PyJWTError:
            raise PeerFailure("the receipt's signature or claims do not hold") from None
        if claims.get("ref") != reference_of(item) or claims.get("outcome") != answer.outcome:
            raise PeerFailure("the receipt does not match the answer")
        if claims.get("caller_region") != caller.region or answer.answered_by != peer.issuer:
            raise PeerFailure("the answer is not the peer's answer to this caller")
        if answer.credential is not None and (answer.credential.region, answer.credential.kind) != (
            item.region,
            item.kind,
        ):
            raise PeerFailure("the answer is about another credential")


def parse_object(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deep enough to exhaust the parser
        raise PeerFailure("the answer is not JSON") from None
    if not isinstance(document, dict):
        raise PeerFailure("the answer is not a JSON object")
    return document
