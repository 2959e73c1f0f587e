"""Verification across nodes: items of regions held here are looked up here; the others go to their region's
peer, whose signed answer is kept as it is, with this node's own recognition of the credential added.

The peer is authoritative for its registry (outcome, credential, receipt); this node is authoritative for how
its region recognises the credential, so it applies its own rules to the facts in the peer's answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from app.audit.service import PendingEvent, person_fields
from app.audit.writer import AuditWriter
from app.catalogue.index import CatalogueSnapshot
from app.domain.calendar import china_today
from app.domain.codes import series_of_title_code
from app.federation.client import PeerClient, PeerUnavailable
from app.security import Principal
from app.verification.rules import RuleBook
from app.verification.schemas import (
    ItemProblem,
    Shortage,
    VerifiedCredential,
    VerifiedSkill,
    VerifiedTitle,
    VerifyAnswer,
    VerifyIn,
)
from app.verification.service import (
    Verifier,
    check_areas,
    present_recognition,
    recognition_check,
    reference_of,
    wait_until_floor,
)


def shortage_of_answer(
    catalogue: CatalogueSnapshot, credential: VerifiedCredential, region: str
) -> list[Shortage]:
    """The catalogue posts, as this node holds the catalogue, that the peer's credential fills here."""
    if isinstance(credential, VerifiedTitle):
        return catalogue.match("title", series_of_title_code(credential.title_code), None, region)
    if isinstance(credential, VerifiedSkill):
        return catalogue.match("skill", None, credential.occupation_code, region)
    return []


def problem_of(exc: PeerUnavailable) -> ItemProblem:
    return ItemProblem(type=f"/problems/{exc.slug}", title=exc.title, status=exc.status, detail=exc.detail)


class Dispatcher:
    def __init__(
        self,
        *,
        local: Verifier,
        peers: PeerClient | None,
        regions: Sequence[str],
        rules: RuleBook,
        audit: AuditWriter,
    ) -> None:
        self.local, self.peers, self.regions, self.rules, self.audit = (
            local,
            peers,
            set(regions),
            rules,
            audit,
        )

    def peer_region(self, item: VerifyIn) -> str | None:
        if item.region in self.regions or self.peers is None or item.region not in self.peers.peers:
            return None
        return item.region

    async def verify(self, item: VerifyIn, caller: Principal, request_id: str | None) -> VerifyAnswer:
        region = self.peer_region(item)
        if region is None:
            return await self.local.verify(item, caller, request_id)
        assert self.peers is not None
        check_areas([item], await self.rules.rule_set(), batch=False)
        started = asyncio.get_running_loop().time()
        answer = (await self.peers.verify_items(region, [item], caller))[0]
        adopted = (await self.adopt([(item, answer)], caller, request_id))[0]
        if adopted.outcome == "no_match":  # the same floor as a local no_match, for the same reason
            await wait_until_floor(started, self.local.no_match_floor)
        return adopted

    async def verify_batch(
        self, items: Sequence[VerifyIn], caller: Principal, request_id: str | None
    ) -> list[VerifyAnswer | ItemProblem]:
        check_areas(items, await self.rules.rule_set(), batch=True)
        results: list[VerifyAnswer | ItemProblem | None] = [None] * len(items)
        by_region: dict[str | None, list[int]] = {}
        for position, item in enumerate(items):
            by_region.setdefault(self.peer_region(item), []).append(position)
        local = by_region.pop(None, [])
        if local:
            for position, answer in zip(
                local,
                await self.local.verify_batch([items[i] for i in local], caller, request_id),
                strict=True,
            ):
                results[position] = answer
        for region, positions in by_region.items():
            assert region is not None
            assert self.peers is not None
            group = [items[i] for i in positions]
            try:
                answers = await self.peers.verify_items(region, group, caller)
            except PeerUnavailable as exc:
                for position in positions:
                    results[position] = problem_of(exc)
                continue
            adopted = await self.adopt(list(zip(group, answers, strict=True)), caller, request_id)
            for position, answer in zip(positions, adopted, strict=True):
                results[position] = answer
        return [result for result in results if result is not None]

    async def adopt(
        self, pairs: list[tuple[VerifyIn, VerifyAnswer]], caller: Principal, request_id: str | None
    ) -> list[VerifyAnswer]:
        """The peer's answers, with this region's recognition and shortage posts in place of the peer's, and
        our audit events."""
        rules = await self.rules.rule_set()
        catalogue = await self.local.catalogue_snapshot()
        today = china_today()
        adopted, events = [], []
        for item, answer in pairs:
            recognition, shortage = None, []
            if answer.outcome == "valid" and answer.credential is not None:
                facts = answer.credential.facts()
                recognition = rules.recognise(facts, caller.region, today, item.target_area)
                shortage = shortage_of_answer(catalogue, answer.credential, caller.region)
            checks = [c for c in answer.checks if c.id != "recognition.rule"]
            if answer.credential is not None:
                checks.append(recognition_check(answer.outcome, recognition, home=False))
            adopted.append(
                answer.model_copy(
                    update={
                        "checks": checks,
                        "recognition": present_recognition(recognition),
                        "shortage": shortage,
                    }
                )
            )
            events.append(
                PendingEvent(
                    action="credential.verified_via_peer",
                    outcome=answer.outcome,
                    client_id=caller.client_id,
                    **person_fields(caller.person),
                    object_ref=f"ref:{reference_of(item)}",
                    request_id=request_id,
                    details={"kind": item.kind, "region": item.region, "answered_by": answer.answered_by},
                    occurred_at=datetime.now(UTC),
                )
            )
        await self.audit.append(events)
        return adopted
