"""What a rule edit would change: per kind, how many credentials would be recognised differently today.

A rule reads only a credential's facts (kind, region, issuer level, title code and its series and level,
skill level, card system and class), never the holder. So the registry is read as ONE aggregate query,
grouped by those facts, and the verifier's own engine (app.domain.recognition.recognise) decides each group
under the rules as they are and as they would be. The database does one pass over the rows the rule's kind
and source regions select; Python does work per distinct group of facts, which the code tables bound (a few
thousand at most), whatever the registry's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.kinds import KINDS
from app.domain.recognition import CredentialFacts, Recognition, Rule, recognise
from app.domain.status import CredentialStatus
from app.models import Credential, Organisation, RecognitionRule, TitleCode
from app.registry.service import where_effective_status
from app.verification.rules import rule_from_row


class RulePreview(BaseModel):
    on: date = Field(description="the day both rule sets were applied to")
    counts: dict[str, int] = Field(description="per kind: credentials recognised differently")
    total: int
    groups: int = Field(description="distinct groups of facts evaluated (what the work scales with)")


def outcome(found: Recognition | None) -> tuple[Any, ...] | None:
    """What a verifier's answer shows of a recognition: whether, by which rule, how, and as what. The basis
    text is left out: rewording it changes no credential's recognition."""
    if found is None:
        return None
    return (found.rule, found.mode, sorted(found.equivalent.items()))


def facts_query(kinds: Iterable[str], sources: Iterable[str], today: date) -> Any:
    """Active credentials (as a verifier sees them today) of the kinds and regions, counted per group of
    the facts a rule can read."""
    columns = (
        Credential.kind,
        Credential.region_code,
        Organisation.level,
        Credential.title_code,
        TitleCode.series_code,
        TitleCode.level,
        Credential.skill_level,
        Credential.card_system,
        Credential.card_class,
        Credential.permit_class,
    )
    return (
        select(*columns, func.count())
        .join(Organisation, Organisation.id == Credential.issuer_id)
        .outerjoin(TitleCode, TitleCode.code == Credential.title_code)
        .where(
            Credential.kind.in_(list(kinds)),
            Credential.region_code.in_(list(sources)),
            where_effective_status(CredentialStatus.ACTIVE, today),
            # Not yet started counts as not valid to a verifier, so it is recognised by no rule.
            or_(Credential.valid_from.is_(None), Credential.valid_from <= today),
        )
        .group_by(*columns)
    )


def count_differences(
    groups: Iterable[tuple[CredentialFacts, int]],
    targets: Mapping[str, set[str]],
    current: tuple[Rule, ...],
    proposed: tuple[Rule, ...],
    today: date,
    areas: Iterable[str | None] = (None,),
) -> Counter[str]:
    """Credentials (each counted once) whose recognition in some target region, or some area of it that a
    rule is scoped to, differs between the sets."""
    counts: Counter[str] = Counter()
    areas = list(areas)
    for facts, number in groups:
        places = [(target, area) for target in targets.get(facts.region, ()) for area in areas]
        for target, area in places:
            if outcome(recognise(facts, target, current, today, area)) != outcome(
                recognise(facts, target, proposed, today, area)
            ):
                counts[facts.kind] += number
                break
    return counts


async def preview_rule(session: AsyncSession, code: str, rule: Rule, today: date) -> RulePreview:
    rows = (await session.scalars(select(RecognitionRule))).all()
    current = tuple(rule_from_row(row) for row in rows)
    replaced = [r for r in current if r.code == code]
    proposed = (*(r for r in current if r.code != code), rule)
    touched = [rule, *replaced]  # only credentials these two rules could apply to can change
    targets: dict[str, set[str]] = {}
    for r in touched:
        targets.setdefault(r.source_region, set()).add(r.target_region)
    kinds = {r.kind for r in touched}
    result = await session.execute(facts_query(kinds, targets, today))
    groups = [
        (
            CredentialFacts(
                kind=kind,
                region=region,
                issuer_level=level,
                title_code=title_code,
                title_series=series,
                title_level=title_level,
                skill_level=skill_level,
                card_system=card_system,
                card_class=card_class,
                permit_class=permit_class,
            ),
            int(number),
        )
        for (
            kind,
            region,
            level,
            title_code,
            series,
            title_level,
            skill_level,
            card_system,
            card_class,
            permit_class,
            number,
        ) in result.all()
    ]
    # Everywhere in a region, and in each area a touched rule is scoped to.
    areas = [None, *sorted({r.target_area for r in touched if r.target_area is not None})]
    counts = count_differences(groups, targets, current, proposed, today, areas)
    return RulePreview(
        on=today,
        counts={kind: counts.get(kind, 0) for kind in KINDS},
        total=sum(counts.values()),
        groups=len(groups),
    )
