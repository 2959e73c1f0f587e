"""The recognition rules and the names their answers quote, read from the database and kept per process."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from app.db import Transactions
from app.domain.recognition import CredentialFacts, Recognition, RecognitionMode, Rule, recognise
from app.models import Area, CardClass, CardService, RecognitionRule, SkillLevel, TitleCode


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    title_names: Mapping[str, str] = field(default_factory=dict)
    level_names: Mapping[int, str] = field(default_factory=dict)
    class_names: Mapping[tuple[str, str], str] = field(default_factory=dict)
    service_names: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # The area codes a verification may name (target_area), read with the rules that may be scoped to them.
    areas: frozenset[str] = frozenset()

    def recognise(
        self, facts: CredentialFacts, target_region: str, on: date, area: str | None = None
    ) -> Recognition | None:
        found = recognise(facts, target_region, self.rules, on, area)
        if found is None:
            return None
        return Recognition(
            found.target_region, found.mode, self.name_equivalent(found, facts), found.basis, found.rule
        )

    def name_equivalent(self, found: Recognition, facts: CredentialFacts) -> dict[str, Any]:
        """The rule's equivalent, with the names a clerk reads (the rule itself holds only codes)."""
        equivalent = dict(found.equivalent)
        if facts.kind == "title" and facts.title_code:
            equivalent.setdefault("title_code", facts.title_code)
            equivalent.setdefault("title_name", self.title_names.get(facts.title_code))
        elif facts.kind == "skill":
            level = equivalent.get("skill_level", facts.skill_level)
            if isinstance(level, int):
                equivalent.setdefault("level_name", self.level_names.get(level))
        elif found.mode == RecognitionMode.RECIPROCAL:
            system = str(equivalent.get("card_system", ""))
            card_class = str(equivalent.get("card_class", ""))
            equivalent.setdefault("card_class_name", self.class_names.get((system, card_class)))
            services = equivalent.get("services") or []
            equivalent["shared_services"] = [
                {"code": code, "name": self.service_names.get((system, str(code)), str(code))}
                for code in services
            ]
        return equivalent


def rule_from_row(row: RecognitionRule) -> Rule:
    return Rule(
        code=row.code,
        kind=row.kind,
        source_region=row.source_region,
        target_region=row.target_region,
        mode=RecognitionMode(row.mode),
        criteria=dict(row.criteria),
        equivalent=dict(row.equivalent),
        basis=row.basis,
        effective_from=row.effective_from,
        effective_until=row.effective_until,
        priority=row.priority,
        target_area=row.target_area,
    )


async def load_rule_set(reads: Transactions) -> RuleSet:
    async with reads() as conn:
        rules = (await conn.execute(select(RecognitionRule.__table__))).all()
        titles = (await conn.execute(select(TitleCode.code, TitleCode.name))).all()
        levels = (await conn.execute(select(SkillLevel.level, SkillLevel.name))).all()
        classes = (await conn.execute(select(CardClass.system_code, CardClass.code, CardClass.name))).all()
        services = (
            await conn.execute(select(CardService.system_code, CardService.code, CardService.name))
        ).all()
        areas = (await conn.execute(select(Area.code))).scalars().all()
    return RuleSet(
        rules=tuple(rule_from_row(RecognitionRule(**row._asdict())) for row in rules),
        title_names={code: name for code, name in titles},
        level_names={level: name for level, name in levels},
        class_names={(system, code): name for system, code, name in classes},
        service_names={(system, code): name for system, code, name in services},
        areas=frozenset(areas),
    )


class RuleBook:
    """This process's copy of the rules, re-read every `refresh_seconds` or at once after an edit here."""

    def __init__(self, reads: Transactions, refresh_seconds: float) -> None:
        self.reads, self.refresh_seconds = reads, refresh_seconds
        self.current: RuleSet | None = None
        self.loaded_at = 0.0

    async def rule_set(self) -> RuleSet:
        if self.current is None or time.monotonic() - self.loaded_at >= self.refresh_seconds:
            self.current = await load_rule_set(self.reads)
            self.loaded_at = time.monotonic()
        return self.current

    def invalidate(self) -> None:
        self.current = None
