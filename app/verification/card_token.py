"""POST /v1/verify/card-token: a card's QR token checked as a counter would offline, answered as /v1/verify.

The check itself is app.cards.offline (the same function third parties run): this node's JWKS (every key it
ever had, so cards signed before a rotation still verify) and its status lists as published, cached within
their ttl. What this adds: recognition in the caller's region, a receipt and the audit event.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from app.audit.service import PendingEvent, person_fields
from app.audit.writer import AuditWriter
from app.cards.offline import OfflineResult, StatusListMissing, peek_claims, peek_header, verify_card_token
from app.cards.publisher import PURPOSES, StatusListPublisher
from app.cards.status_list import Bitstring
from app.cards.tokens import status_list_url
from app.db import Transactions
from app.domain.calendar import china_today
from app.domain.recognition import CredentialFacts
from app.domain.references import reference_digest
from app.errors import AppError
from app.keys import KeyStore
from app.security import Principal
from app.verification.receipts import receipt_claims, sign_receipt
from app.verification.rules import RuleBook
from app.verification.schemas import CardTokenAnswer, Check, TokenCard, TokenHolder
from app.verification.service import present_recognition, recognition_check


class StatusUnavailable(AppError):
    status, slug, title = 503, "status-unavailable", "Status list unavailable"


class PeerMaterial(Protocol):
    """Copies of the peers' keys and status lists: app.federation.mirror.PeerMirror, wired in app.main.

    A protocol, so that this package does not import the federation package that builds on it.
    """

    def material_for(self, issuer: str) -> tuple[dict[str, Any], dict[str, Bitstring], float] | None:
        """The issuer's JWKS, usable copies of its lists and the age of the oldest; None without them."""


def unverified_issuer(token: str) -> str | None:
    """Which node's keys to check the token with; nothing in it is believed before that check."""
    issuer = (peek_claims(token) or {}).get("iss")
    return issuer if isinstance(issuer, str) else None


def day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


class CardTokenVerifier:
    def __init__(
        self,
        *,
        keys: KeyStore,
        transactions: Transactions,
        status_lists: StatusListPublisher,
        rules: RuleBook,
        audit: AuditWriter,
        issuer: str,
        regions: list[str],
        receipt_ttl: timedelta,
        mirror: PeerMaterial | None = None,
    ) -> None:
        self.keys, self.transactions, self.status_lists = keys, transactions, status_lists
        self.rules, self.audit, self.issuer, self.regions = rules, audit, issuer, regions
        self.receipt_ttl, self.mirror = receipt_ttl, mirror

    async def own_lists(self) -> tuple[dict[str, Bitstring], float]:
        """This node's lists (within their ttl), by URL, and the age of the oldest one used."""
        lists: dict[str, Bitstring] = {}
        oldest = datetime.now(UTC)
        for region in self.regions:
            for purpose in PURPOSES:
                published = self.status_lists.cached(region, purpose) or await self.status_lists.current(
                    region, purpose
                )
                lists[status_list_url(self.issuer, region, purpose)] = published.bits
                oldest = min(oldest, published.built_at)
        return lists, (datetime.now(UTC) - oldest).total_seconds()

    async def check(self, token: str) -> tuple[OfflineResult, float]:
        issuer = unverified_issuer(token)
        if issuer is not None and issuer != self.issuer and self.mirror is not None:
            # A peer's card: its keys and lists as last copied here, usable while the peer is unreachable.
            material = self.mirror.material_for(issuer)
            if material is None:
                raise StatusUnavailable(
                    "no current copy of the issuing node's keys and status lists is held here"
                )
            jwks, lists, age = material
            return verify_card_token(token, jwks, lists, issuers={issuer}), age
        kid = (peek_header(token) or {}).get("kid")  # a malformed header is refused by the check below
        if isinstance(kid, str):
            await self.keys.find_public_key(self.transactions, kid)  # reloads keys once for a new kid
        lists, age = await self.own_lists()
        try:
            return verify_card_token(token, self.keys.jwks, lists, issuers={self.issuer}), age
        except StatusListMissing:
            # Signed here, for a region this node does not publish: nothing to check the status against.
            raise StatusUnavailable("no status list for the card's region is available here") from None

    async def verify(self, token: str, caller: Principal, request_id: str | None) -> CardTokenAnswer:
        result, age = await self.check(token)
        claims = result.claims
        checked_at = datetime.now(UTC)
        recognition = None
        checks = [Check(id=c.id, passed=c.passed, code=c.code) for c in result.checks]
        card = None
        reference = reference_digest("card", "", "")
        if claims:
            rules = await self.rules.rule_set()
            region, number = str(claims["rg"]), str(claims["cn"])
            reference = reference_digest("card", region, number)
            facts = CredentialFacts(
                kind="card",
                region=region,
                issuer_level="",
                card_system=str(claims["cs"]),
                card_class=str(claims["cc"]),
            )
            if result.outcome == "valid":
                recognition = rules.recognise(facts, caller.region, china_today(checked_at))
            card = TokenCard(
                region=region,
                number=number,
                status="active" if result.outcome == "valid" else result.outcome,
                card_system=facts.card_system or "",
                card_class=facts.card_class or "",
                card_class_name=rules.class_names.get((facts.card_system or "", facts.card_class or "")),
                holder=TokenHolder(name_masked=str(claims.get("nm", ""))),
                valid_from=day(claims.get("vf")),
                valid_until=day(claims.get("vu")),
                issuer=str(claims["iss"]),
            )
            checks.append(recognition_check(result.outcome, recognition, home=caller.region == region))
        receipt = sign_receipt(
            receipt_claims(
                issuer=self.issuer,
                audience=caller.client_id,
                reference=reference,
                outcome=result.outcome,
                checked_at=checked_at,
                ttl=self.receipt_ttl,
                caller_region=caller.region,
                version=None,
                recognition=recognition.mode.value if recognition else None,
            ),
            self.keys,
        )
        await self.audit.append(
            [
                PendingEvent(
                    action="card.token_verified",
                    outcome=result.outcome,
                    client_id=caller.client_id,
                    **person_fields(caller.person),
                    object_ref=f"ref:{reference}",
                    request_id=request_id,
                    details={"caller_region": caller.region},
                    occurred_at=checked_at,
                )
            ]
        )
        return CardTokenAnswer(
            outcome=result.outcome,
            checked_at=checked_at,
            credential=card,
            recognition=present_recognition(recognition),
            checks=checks,
            receipt=receipt,
            status_list_age_seconds=round(age, 1) if claims else None,
        )
