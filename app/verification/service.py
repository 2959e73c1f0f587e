"""Verification: match a credential on its number plus a second factor, and say check by check what holds.

Enumeration resistance: an unknown number and a number whose holder does not match give the same answer
(`no_match`, identical checks, a receipt over the same claims) after the same work: the name is normalised and
the ID number hashed before the look-up whatever it finds, and nothing else is read for either case.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Protocol

from app.audit.service import PendingEvent, person_fields
from app.audit.writer import AuditWriter
from app.catalogue.index import CatalogueIndex, CatalogueSnapshot
from app.db import Transactions
from app.domain.calendar import china_today
from app.domain.identity import normalize_document_number
from app.domain.masking import mask_name
from app.domain.permit_number import permit_number_well_formed
from app.domain.recognition import CredentialFacts, Recognition
from app.domain.references import reference_digest
from app.domain.status import CredentialStatus, effective_status
from app.errors import invalid_field
from app.keys import KeyStore
from app.privacy import PersonalDataVault
from app.reference.number_formats import SKILL_NUMBER_FORMATS
from app.security import Principal
from app.verification.lookup import AnswerRow, AnyRow, find_many, find_one, find_successor
from app.verification.receipts import receipt_claims, sign_receipt
from app.verification.rules import RuleBook, RuleSet
from app.verification.schemas import (
    AnyVerifiedCredential,
    Check,
    CredentialRef,
    ItemProblem,
    RecognitionOut,
    Shortage,
    VerifiedCard,
    VerifiedHolder,
    VerifiedIssuer,
    VerifiedPermit,
    VerifiedSkill,
    VerifiedTitle,
    VerifyAnswer,
    VerifyIn,
)

OUTCOME_OF_STATUS = {
    CredentialStatus.ACTIVE: "valid",
    CredentialStatus.SUSPENDED: "suspended",
    CredentialStatus.REVOKED: "revoked",
    CredentialStatus.CANCELLED: "cancelled",
    CredentialStatus.EXPIRED: "expired",
    CredentialStatus.TRANSFERRED: "transferred",
    CredentialStatus.SUPERSEDED: "superseded",
}


@dataclass(frozen=True)
class Probe:
    """A request item made ready for matching, before anything is looked up."""

    item: VerifyIn
    number: str
    well_formed: bool
    id_hash: str | None


@dataclass
class Decision:
    outcome: str
    checks: list[Check]
    row: AnswerRow | None = None
    recognition: Recognition | None = None
    successor: AnyRow | None = None
    shortage: list[Shortage] = field(default_factory=list)


# The kinds whose numbers the registry stores normalised as document numbers (NFKC, no spaces, upper case).
NORMALISED_NUMBERS = frozenset({"skill", "permit"})


def canonical_number(item: VerifyIn) -> str:
    """The number as the registry stores it (skill and permit numbers in their normalised spelling)."""
    return normalize_document_number(item.number) if item.kind in NORMALISED_NUMBERS else item.number


def reference_of(item: VerifyIn) -> str:
    """The credential reference a receipt binds: the same at every node that answers for the item."""
    return reference_digest(item.kind, item.region, canonical_number(item))


def check(check_id: str, passed: bool, code: str) -> Check:
    return Check(id=check_id, passed=passed, code=code)


def number_format_known(kind: str, number: str) -> bool:
    # Skill certificates have published numbering schemes and permits a known shape; title and card numbers
    # are issuer-defined.
    if kind == "skill":
        return any(scheme.matches(number) for scheme in SKILL_NUMBER_FORMATS)
    return kind != "permit" or permit_number_well_formed(number)


def holder_matches(row: AnswerRow, probe: Probe) -> bool:
    # Constant-time comparisons: how long a mismatch takes must not tell how much of a name was right.
    same_name = hmac.compare_digest(row.holder_name.encode(), probe.item.name.encode())
    same_id = probe.id_hash is None or hmac.compare_digest(row.holder_id_hash, probe.id_hash)
    return same_name and same_id


def no_match(well_formed: bool) -> Decision:
    return Decision(
        "no_match",
        [
            check("format.number", well_formed, "number.ok" if well_formed else "number.unknown_format"),
            check("registry.match", False, "registry.no_match"),
        ],
    )


def recognition_check(outcome: str, recognition: Recognition | None, *, home: bool) -> Check:
    """The recognition.rule check: the caller's own region, the rule that applies, or why none does."""
    if home:
        return check("recognition.rule", True, "recognition.home_region")
    if recognition is not None:
        return check("recognition.rule", True, f"recognition.{recognition.mode.value}")
    return check(
        "recognition.rule", False, "recognition.no_rule" if outcome == "valid" else "recognition.not_valid"
    )


def present_recognition(recognition: Recognition | None) -> RecognitionOut | None:
    if recognition is None:
        return None
    return RecognitionOut(
        target_region=recognition.target_region,
        mode=recognition.mode.value,
        equivalent=dict(recognition.equivalent),
        basis=recognition.basis,
        rule=recognition.rule,
    )


def facts_of(row: AnswerRow) -> CredentialFacts:
    return CredentialFacts(
        kind=row.kind,
        region=row.region_code,
        issuer_level=row.issuer_level,
        title_code=row.title_code,
        title_series=row.title_series,
        title_level=row.title_level,
        skill_level=row.skill_level,
        card_system=row.card_system,
        card_class=row.card_class,
        permit_class=row.permit_class,
    )


def check_areas(items: Sequence[VerifyIn], rules: RuleSet, *, batch: bool) -> None:
    """An area the request names must be in the areas table: an unknown one would silently match no rule."""
    for position, item in enumerate(items):
        if item.target_area is not None and item.target_area not in rules.areas:
            where = f"items.{position}.target_area" if batch else "target_area"
            raise invalid_field(where, "area.unknown", "no such area")


EMPTY_CATALOGUE = CatalogueSnapshot()


def decide(
    row: AnswerRow | None,
    probe: Probe,
    caller_region: str,
    rules: RuleSet,
    today: date,
    catalogue: CatalogueSnapshot = EMPTY_CATALOGUE,
) -> Decision:
    if row is None or not holder_matches(row, probe):
        return no_match(probe.well_formed)
    stored = CredentialStatus(row.status)
    shown = effective_status(stored, row.valid_until, today)
    not_started = row.valid_from is not None and row.valid_from > today
    if shown == CredentialStatus.ACTIVE and not_started:
        shown = CredentialStatus.EXPIRED  # outside its validity window, on the early side
    outcome = OUTCOME_OF_STATUS[shown]
    if row.valid_until is not None and row.valid_until < today:
        window = check("validity.window", False, "validity.ended")
    elif not_started:
        window = check("validity.window", False, "validity.not_started")
    else:
        window = check("validity.window", True, "validity.within")
    recognition = (
        rules.recognise(facts_of(row), caller_region, today, probe.item.target_area)
        if outcome == "valid"
        else None
    )
    recognised = recognition_check(outcome, recognition, home=caller_region == row.region_code)
    trusted = row.issuer_region == row.region_code
    checks = [
        check("format.number", True, "number.ok"),
        check("registry.match", True, "registry.matched"),
        check("status.current", stored == CredentialStatus.ACTIVE, f"status.{stored.value}"),
        window,
        check("issuer.trusted", trusted, "issuer.registered" if trusted else "issuer.other_region"),
        recognised,
    ]
    shortage = (
        catalogue.match(row.kind, row.title_series, row.occupation_code, caller_region)
        if outcome == "valid"
        else []
    )
    return Decision(outcome, checks, row, recognition, shortage=shortage)


def present_credential(row: AnswerRow, shown_status: str) -> AnyVerifiedCredential:
    common: dict[str, Any] = {
        "region": row.region_code,
        "number": row.number,
        "version": row.version,
        "status": shown_status,
        "holder": VerifiedHolder(
            name_masked=mask_name(row.holder_name),
            id_type=row.holder_id_type,
            id_number_masked=row.holder_id_masked,
        ),
        "issuer": VerifiedIssuer(name=row.issuer_name, usci=row.issuer_usci, level=row.issuer_level),
        "issued_on": row.issued_on,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
    }
    return VERIFIED[row.kind](row, common)


def verified_title(row: AnswerRow, common: dict[str, Any]) -> VerifiedTitle:
    return VerifiedTitle(
        kind="title",
        title_code=row.title_code,
        title_name=row.title_name or "",
        title_level=row.title_level or "",
        specialty=row.specialty,
        **common,
    )


def verified_skill(row: AnswerRow, common: dict[str, Any]) -> VerifiedSkill:
    return VerifiedSkill(
        kind="skill",
        occupation_code=row.occupation_code or "",
        occupation_name=row.occupation_name,
        level=row.skill_level,
        level_name=row.level_name or "",
        work_type=row.work_type,
        number_format=row.number_format,
        **common,
    )


def verified_card(row: AnswerRow, common: dict[str, Any]) -> VerifiedCard:
    return VerifiedCard(
        kind="card",
        card_system=row.card_system or "",
        card_class=row.card_class or "",
        card_class_name=row.card_class_name or "",
        entitlements=list(row.entitlements or []),
        **common,
    )


def verified_permit(row: AnswerRow, common: dict[str, Any]) -> VerifiedPermit:
    return VerifiedPermit(
        kind="permit",
        permit_class=row.permit_class or "",
        employer_name=row.employer_name or "",
        employer_usci=row.employer_usci or "",
        **common,
    )


# Each kind's verified answer: the one place a new kind's answer is registered.
VERIFIED: Mapping[str, Callable[[AnswerRow, dict[str, Any]], AnyVerifiedCredential]] = MappingProxyType(
    {"title": verified_title, "skill": verified_skill, "card": verified_card, "permit": verified_permit}
)


async def wait_until_floor(started: float, floor: float) -> None:
    """Sleep until `floor` seconds after `started`, both on the event loop's clock.

    The loop's timers tick in whole milliseconds of its own (cached) clock. A delay computed from another
    clock (perf_counter) is rounded on that grid from wherever the look-up left off, so the wake-up still
    carried the look-up's duration modulo a millisecond (measured: 0.05 ms between the two no_match causes).
    A deadline on the loop's clock lands on the same tick whatever happened before it."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(started + floor - loop.time())


class CredentialVerifier(Protocol):
    """What the verify routes answer through: app.federation.forward.Dispatcher, wired in app.main, which
    sends each item to this node's Verifier or to its region's peer.

    A protocol, so that this package does not import the federation package that builds on it.
    """

    async def verify(self, item: VerifyIn, caller: Principal, request_id: str | None) -> VerifyAnswer: ...

    async def verify_batch(
        self, items: Sequence[VerifyIn], caller: Principal, request_id: str | None
    ) -> list[VerifyAnswer | ItemProblem]: ...


class Verifier:
    """Answers verifications: look-up, decision, receipt, and the audit event committed before the answer."""

    def __init__(
        self,
        *,
        reads: Transactions,
        keys: KeyStore,
        vault: PersonalDataVault,
        rules: RuleBook,
        audit: AuditWriter,
        issuer: str,
        receipt_ttl: timedelta,
        no_match_floor: float = 0.0,
        catalogue: CatalogueIndex | None = None,
    ) -> None:
        self.reads, self.keys, self.vault, self.rules = reads, keys, vault, rules
        self.audit, self.issuer, self.receipt_ttl = audit, issuer, receipt_ttl
        self.no_match_floor = no_match_floor
        self.catalogue = catalogue

    async def catalogue_snapshot(self) -> CatalogueSnapshot:
        """The shortage catalogue as this process holds it (no query unless its refresh period ran out)."""
        return await self.catalogue.snapshot() if self.catalogue is not None else EMPTY_CATALOGUE

    def prepare(self, item: VerifyIn) -> Probe:
        number = canonical_number(item)
        id_hash = (
            self.vault.hash_document(item.id_type.value, item.id_number)
            if item.id_number is not None
            else None
        )
        return Probe(item, number, number_format_known(item.kind, number), id_hash)

    async def verify(self, item: VerifyIn, caller: Principal, request_id: str | None) -> VerifyAnswer:
        started = asyncio.get_running_loop().time()
        probe = self.prepare(item)
        rules = await self.rules.rule_set()
        check_areas([item], rules, batch=False)
        catalogue = await self.catalogue_snapshot()
        today = china_today()
        async with self.reads() as conn:
            row = await find_one(conn, item.kind, item.region, probe.number) if probe.well_formed else None
            decision = decide(row, probe, caller.region, rules, today, catalogue)
            if decision.outcome in ("transferred", "superseded") and decision.row is not None:
                decision.successor = await find_successor(conn, decision.row.id)
        answer, event = self.conclude(probe, decision, caller, request_id)
        await self.audit.append([event])
        if decision.outcome == "no_match":
            # A number that exists costs the database a heap fetch and the joins that an unknown one does not
            # (measured: 0.24 ms on 10M credentials). Both causes answer no earlier than the floor, so the
            # difference drowns in the wait; the wait holds no CPU and no connection.
            await wait_until_floor(started, self.no_match_floor)
        return answer

    async def verify_batch(
        self, items: Sequence[VerifyIn], caller: Principal, request_id: str | None
    ) -> list[VerifyAnswer]:
        started = asyncio.get_running_loop().time()
        probes = [self.prepare(item) for item in items]
        rules = await self.rules.rule_set()
        check_areas(items, rules, batch=True)
        catalogue = await self.catalogue_snapshot()
        today = china_today()
        async with self.reads() as conn:
            wanted = [(p.item.kind, p.item.region, p.number) for p in probes if p.well_formed]
            found = await find_many(conn, wanted)
            decisions = []
            for probe in probes:
                row = (
                    found.get((probe.item.kind, probe.item.region, probe.number))
                    if probe.well_formed
                    else None
                )
                decision = decide(row, probe, caller.region, rules, today, catalogue)
                if decision.outcome in ("transferred", "superseded") and decision.row is not None:
                    decision.successor = await find_successor(conn, decision.row.id)
                decisions.append(decision)
        concluded = [self.conclude(p, d, caller, request_id) for p, d in zip(probes, decisions, strict=True)]
        await self.audit.append([event for _, event in concluded])
        if any(answer.outcome == "no_match" for answer, _ in concluded):
            # The same floor as a single no_match: a batch of one must not time what a single call hides.
            await wait_until_floor(started, self.no_match_floor)
        return [answer for answer, _ in concluded]

    def conclude(
        self, probe: Probe, decision: Decision, caller: Principal, request_id: str | None
    ) -> tuple[VerifyAnswer, PendingEvent]:
        checked_at = datetime.now(UTC)
        item, row = probe.item, decision.row
        # The reference as asked: for no_match the two causes must not differ, so never the stored spelling.
        reference = reference_digest(item.kind, item.region, probe.number)
        recognition = decision.recognition
        claims = receipt_claims(
            issuer=self.issuer,
            audience=caller.client_id,
            reference=reference,
            outcome=decision.outcome,
            checked_at=checked_at,
            ttl=self.receipt_ttl,
            caller_region=caller.region,
            version=row.version if row is not None else None,
            recognition=recognition.mode.value if recognition else None,
        )
        successor = decision.successor
        answer = VerifyAnswer(
            outcome=decision.outcome,
            checked_at=checked_at,
            credential=present_credential(row, status_shown(decision)) if row is not None else None,
            recognition=present_recognition(recognition),
            successor=(
                CredentialRef(
                    kind=successor.kind,
                    region=successor.region_code,
                    number=successor.number,
                    version=successor.version,
                    status=successor.status,
                )
                if successor is not None
                else None
            ),
            checks=decision.checks,
            receipt=sign_receipt(claims, self.keys),
            answered_by=self.issuer,
            shortage=decision.shortage,
        )
        event = PendingEvent(
            action="credential.verified",
            outcome=decision.outcome,
            client_id=caller.client_id,
            **person_fields(caller.person),
            object_ref=f"ref:{reference}",
            request_id=request_id,
            details={"kind": item.kind, "region": item.region, "caller_region": caller.region},
            occurred_at=checked_at,
        )
        return answer, event


def status_shown(decision: Decision) -> str:
    return "active" if decision.outcome == "valid" else decision.outcome
