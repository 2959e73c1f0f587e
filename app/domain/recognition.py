"""Recognition engine: how a credential of one region counts in the other, under the 川渝 rules.

The rules themselves are data (table `recognition_rules`, seeded from app/reference/data): this module only
decides which rule applies. A rule names the issuing and the target region, the credential kind, criteria over
the credential's facts, its effective dates and a priority; the applicable rule with the lowest priority
number wins (ties broken by code, so the choice never depends on row order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from app.domain.date_windows import in_window
from app.domain.errors import DomainError


class RecognitionMode(StrEnum):
    DIRECT = "direct"  # senior titles from the provincial authority: no re-review
    DELEGATED = "delegated"  # confirmed by the city / district / county level of the target region
    MAPPED = "mapped"  # through a correspondence table (levels, qualifications to titles)
    RECIPROCAL = "reciprocal"  # talent cards: the equivalent class and shared services (对等互认)


@dataclass(frozen=True)
class CredentialFacts:
    """What a rule may look at. No personal data: rules never depend on the holder."""

    kind: str
    region: str
    issuer_level: str
    title_code: str | None = None
    title_series: str | None = None
    title_level: str | None = None
    skill_level: int | None = None
    card_system: str | None = None
    card_class: str | None = None
    permit_class: str | None = None


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str
    source_region: str
    target_region: str
    mode: RecognitionMode
    criteria: Mapping[str, Any]
    equivalent: Mapping[str, Any]
    basis: str
    effective_from: date
    effective_until: date | None = None
    priority: int = 100
    # Set: the rule applies only where the verification names this area (a pilot zone); None: everywhere.
    target_area: str | None = None

    def in_force(self, on: date) -> bool:
        """On `[effective_from, effective_until)`: a rule ended on D and one from D never overlap."""
        return in_window(on, self.effective_from, self.effective_until)


@dataclass(frozen=True)
class Recognition:
    target_region: str
    mode: RecognitionMode
    equivalent: Mapping[str, Any]
    basis: str
    rule: str = field(default="")


def _member(values: Any, value: Any) -> bool:
    return value is not None and value in values


def _equal(expected: Any, value: Any) -> bool:
    return value is not None and value == expected


# Each criterion: the fact it reads, how it compares, and the JSON type an admin must give it.
CRITERIA: Mapping[str, tuple[str, Callable[[Any, Any], bool], type]] = {
    "title_codes": ("title_code", _member, list),
    "title_series": ("title_series", _member, list),
    "title_levels": ("title_level", _member, list),
    "issuer_levels": ("issuer_level", _member, list),
    "skill_levels": ("skill_level", _member, list),
    "card_system": ("card_system", _equal, str),
    "card_classes": ("card_class", _member, list),
    "permit_classes": ("permit_class", _member, list),
}


def check_criteria(criteria: Mapping[str, Any]) -> None:
    """Refuse criteria the engine cannot evaluate: an unknown key would otherwise make a rule silently
    match more credentials than its author meant."""
    for name, value in criteria.items():
        if name not in CRITERIA:
            raise DomainError("rule.criteria_unknown", f"Unknown criterion {name!r}.")
        expected_type = CRITERIA[name][2]
        if not isinstance(value, expected_type) or (expected_type is list and not value):
            raise DomainError(
                "rule.criteria_type", f"Criterion {name!r} must be a non-empty {expected_type.__name__}."
            )


def matches(criteria: Mapping[str, Any], facts: CredentialFacts) -> bool:
    for name, expected in criteria.items():
        known = CRITERIA.get(name)
        if known is None:  # fail closed on data that bypassed check_criteria
            return False
        fact, compare, _ = known
        if not compare(expected, getattr(facts, fact)):
            return False
    return True


def applicable_rules(
    facts: CredentialFacts, target_region: str, rules: Iterable[Rule], on: date, area: str | None = None
) -> Sequence[Rule]:
    """The rules that apply, best first. `area` is where the caller says the holder's new employer is: a rule
    scoped to an area applies only when that area is named; a rule without one applies in the whole region."""
    found = [
        rule
        for rule in rules
        if rule.kind == facts.kind
        and rule.source_region == facts.region
        and rule.target_region == target_region
        and (rule.target_area is None or rule.target_area == area)
        and rule.in_force(on)
        and matches(rule.criteria, facts)
    ]
    return sorted(found, key=lambda rule: (rule.priority, rule.code))


def recognise(
    facts: CredentialFacts, target_region: str, rules: Iterable[Rule], on: date, area: str | None = None
) -> Recognition | None:
    """The recognition in `target_region` (and `area` of it, if named) on day `on`; None in the issuing region
    or when no rule applies."""
    if facts.region == target_region:
        return None
    found = applicable_rules(facts, target_region, rules, on, area)
    if not found:
        return None
    rule = found[0]
    return Recognition(target_region, rule.mode, dict(rule.equivalent), rule.basis, rule.code)
