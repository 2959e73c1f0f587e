"""The recognition engine over the shipped 川渝 rules and over hand-made ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from app.domain.errors import DomainError
from app.domain.recognition import (
    CredentialFacts,
    RecognitionMode,
    Rule,
    applicable_rules,
    check_criteria,
    recognise,
)
from app.reference.seed import read_data

TODAY = date(2026, 11, 29)


def shipped_rules() -> list[Rule]:
    return [
        Rule(
            code=r["code"],
            kind=r["kind"],
            source_region=r["source_region"],
            target_region=r["target_region"],
            mode=RecognitionMode(r["mode"]),
            criteria=r["criteria"],
            equivalent=r["equivalent"],
            basis=r["basis"],
            effective_from=date.fromisoformat(r["effective_from"]),
            effective_until=date.fromisoformat(r["effective_until"]) if r["effective_until"] else None,
            priority=r["priority"],
            target_area=r.get("target_area"),
        )
        for r in read_data("recognition_rules.json")
    ]


RULES = shipped_rules()


def title(level: str, issuer_level: str = "province", region: str = "SC") -> CredentialFacts:
    return CredentialFacts(
        kind="title", region=region, issuer_level=issuer_level, title_code="0502", title_level=level
    )


def test_every_shipped_rule_has_criteria_the_engine_knows() -> None:
    for rule in RULES:
        check_criteria(rule.criteria)


@pytest.mark.parametrize("level", ["senior_full", "senior_deputy"])
@pytest.mark.parametrize(("source", "target"), [("SC", "CQ"), ("CQ", "SC")])
def test_senior_titles_of_the_provincial_authority_are_recognised_directly(
    level: str, source: str, target: str
) -> None:
    found = recognise(title(level, region=source), target, RULES, TODAY)
    assert found is not None
    assert found.mode == RecognitionMode.DIRECT
    assert found.target_region == target
    assert "川渝职称互认" in found.basis
    assert found.rule == f"title-senior-direct-{source}-{target}"


@pytest.mark.parametrize(
    ("level", "issuer_level", "rule"),
    [
        ("senior_deputy", "city", "title-senior-nonprov-delegated-SC-CQ"),
        ("senior_full", "district", "title-senior-nonprov-delegated-SC-CQ"),
        ("intermediate", "province", "title-intermediate-below-delegated-SC-CQ"),
        ("assistant", "city", "title-intermediate-below-delegated-SC-CQ"),
        ("junior", "district", "title-intermediate-below-delegated-SC-CQ"),
    ],
)
def test_other_titles_are_delegated_to_the_city_and_county_level(
    level: str, issuer_level: str, rule: str
) -> None:
    found = recognise(title(level, issuer_level), "CQ", RULES, TODAY)
    assert found is not None
    assert (found.mode, found.rule) == (RecognitionMode.DELEGATED, rule)
    assert found.equivalent["recognised_by"] == ["city", "district"]


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_skill_levels_are_mapped_to_the_same_level(level: int) -> None:
    facts = CredentialFacts(kind="skill", region="CQ", issuer_level="city", skill_level=level)
    found = recognise(facts, "SC", RULES, TODAY)
    assert found is not None
    assert found.mode == RecognitionMode.MAPPED
    assert found.equivalent["skill_level"] == level


BEFORE_XINCHONGQING = date(2024, 12, 31)


@pytest.mark.parametrize(
    ("system", "card_class", "target", "day", "equivalent"),
    [
        ("cq-yingcai", "A1", "SC", TODAY, ("sc-tianfu", "A")),
        ("cq-yingcai", "A3", "SC", TODAY, ("sc-tianfu", "B")),
        ("cq-xinchongqing", "A", "SC", TODAY, ("sc-tianfu", "A")),
        ("cq-xinchongqing", "B", "SC", TODAY, ("sc-tianfu", "B")),
        # A 天府英才卡 counts in Chongqing as the card Chongqing issues: 新重庆人才卡 from 2025 (its rules'
        # placeholder start), 重庆英才服务卡 before.
        ("sc-tianfu", "A", "CQ", TODAY, ("cq-xinchongqing", "A")),
        ("sc-tianfu", "B", "CQ", TODAY, ("cq-xinchongqing", "B")),
        ("sc-tianfu", "A", "CQ", BEFORE_XINCHONGQING, ("cq-yingcai", "A2")),
        ("sc-tianfu", "B", "CQ", BEFORE_XINCHONGQING, ("cq-yingcai", "A3")),
    ],
)
def test_talent_cards_are_recognised_reciprocally(
    system: str, card_class: str, target: str, day: date, equivalent: tuple[str, str]
) -> None:
    region = "SC" if system == "sc-tianfu" else "CQ"
    facts = CredentialFacts(
        kind="card", region=region, issuer_level="province", card_system=system, card_class=card_class
    )
    found = recognise(facts, target, RULES, day)
    assert found is not None
    assert found.mode == RecognitionMode.RECIPROCAL
    assert (found.equivalent["card_system"], found.equivalent["card_class"]) == equivalent
    assert "hukou" in found.equivalent["services"]


def test_no_recognition_in_the_issuing_region() -> None:
    assert recognise(title("senior_full"), "SC", RULES, TODAY) is None


def test_no_recognition_before_the_rules_took_effect() -> None:
    assert recognise(title("senior_full"), "CQ", RULES, date(2021, 3, 28)) is None
    assert recognise(title("senior_full"), "CQ", RULES, date(2021, 3, 29)) is not None


def test_no_rule_for_an_unknown_card_class() -> None:
    facts = CredentialFacts(
        kind="card", region="CQ", issuer_level="province", card_system="cq-yingcai", card_class="Z"
    )
    assert recognise(facts, "SC", RULES, TODAY) is None


def make_rule(code: str, priority: int, until: date | None = None, **criteria: object) -> Rule:
    return Rule(
        code=code,
        kind="title",
        source_region="SC",
        target_region="CQ",
        mode=RecognitionMode.MAPPED,
        criteria=criteria,
        equivalent={"title_name": code},
        basis="test",
        effective_from=date(2020, 1, 1),
        effective_until=until,
        priority=priority,
    )


def test_lowest_priority_wins_and_ties_break_by_code() -> None:
    rules = [make_rule("b", 5), make_rule("a", 5), make_rule("c", 1, title_codes=["0999"])]
    found = recognise(title("intermediate"), "CQ", rules, TODAY)
    assert found is not None
    assert found.rule == "a"


def test_a_rule_ends_the_day_before_its_until_date() -> None:
    rules = [make_rule("old", 1, until=date(2026, 11, 28)), make_rule("new", 2)]
    assert (found := recognise(title("intermediate"), "CQ", rules, date(2026, 11, 27))) is not None
    assert found.rule == "old"
    assert (found := recognise(title("intermediate"), "CQ", rules, date(2026, 11, 28))) is not None
    assert found.rule == "new"


CHANGE = date(2026, 7, 1)


def successor_pair() -> list[Rule]:
    """A rule ended on the change date and the rule replacing it from that date, as README.md tells an admin
    to change a rule; same priority and criteria, so only the dates decide between them."""
    old = make_rule("old", 10, until=CHANGE)
    new = replace(make_rule("new", 10), effective_from=CHANGE)
    return [old, new]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (CHANGE - timedelta(days=1), {"old"}),
        (CHANGE, {"new"}),
        (CHANGE + timedelta(days=1), {"new"}),
    ],
)
def test_on_the_change_date_exactly_one_of_a_rule_and_its_successor_applies(
    day: date, expected: set[str]
) -> None:
    in_force = {rule.code for rule in successor_pair() if rule.in_force(day)}
    assert in_force == expected
    found = applicable_rules(title("intermediate"), "CQ", successor_pair(), day)
    assert [rule.code for rule in found] == sorted(expected)


def test_a_correspondence_table_by_title_code() -> None:
    rules = [make_rule("by-code", 1, title_codes=["0502"], title_series=["05"])]
    facts = CredentialFacts(
        kind="title", region="SC", issuer_level="city", title_code="0502", title_series="05"
    )
    assert recognise(facts, "CQ", rules, TODAY) is not None
    other = CredentialFacts(kind="title", region="SC", issuer_level="city", title_code="0503")
    assert recognise(other, "CQ", rules, TODAY) is None


@pytest.mark.parametrize(
    ("criteria", "code"),
    [
        ({"holder_name": ["张三"]}, "rule.criteria_unknown"),
        ({"title_levels": "senior_full"}, "rule.criteria_type"),
        ({"title_levels": []}, "rule.criteria_type"),
        ({"card_system": ["cq-yingcai"]}, "rule.criteria_type"),
    ],
)
def test_criteria_the_engine_cannot_evaluate_are_refused(criteria: dict[str, object], code: str) -> None:
    with pytest.raises(DomainError) as caught:
        check_criteria(criteria)
    assert caught.value.code == code


def test_a_rule_with_an_unknown_criterion_never_matches() -> None:
    rules = [make_rule("odd", 1, holder_name=["张三"])]
    assert recognise(title("intermediate"), "CQ", rules, TODAY) is None


def permit(permit_class: str, region: str = "SC") -> CredentialFacts:
    return CredentialFacts(kind="permit", region=region, issuer_level="province", permit_class=permit_class)


@pytest.mark.parametrize(("source", "target"), [("SC", "CQ"), ("CQ", "SC")])
@pytest.mark.parametrize("area", [None, "gaozhu"])
def test_an_a_class_permit_is_recognised_anywhere_in_the_other_region(
    source: str, target: str, area: str | None
) -> None:
    found = recognise(permit("A", source), target, RULES, TODAY, area)
    assert found is not None
    assert found.mode == RecognitionMode.DIRECT
    assert found.equivalent["new_permit_max_years"] == 5
    assert found.equivalent["fewer_documents"] is True


@pytest.mark.parametrize(("source", "target"), [("SC", "CQ"), ("CQ", "SC")])
def test_a_b_class_permit_is_recognised_only_in_the_pilot_area(source: str, target: str) -> None:
    assert recognise(permit("B", source), target, RULES, TODAY) is None
    assert recognise(permit("B", source), target, RULES, TODAY, "elsewhere") is None
    found = recognise(permit("B", source), target, RULES, TODAY, "gaozhu")
    assert found is not None
    assert found.rule == f"permit-B-gaozhu-pilot-{source}-{target}"


@pytest.mark.parametrize("area", [None, "gaozhu"])
def test_a_c_class_permit_is_never_recognised(area: str | None) -> None:
    assert recognise(permit("C"), "CQ", RULES, TODAY, area) is None


def test_a_rule_without_an_area_applies_where_an_area_is_named() -> None:
    general = Rule(
        code="general",
        kind="title",
        source_region="SC",
        target_region="CQ",
        mode=RecognitionMode.DIRECT,
        criteria={},
        equivalent={},
        basis="b",
        effective_from=date(2020, 1, 1),
    )
    scoped = Rule(**{**general.__dict__, "code": "scoped", "target_area": "zone", "priority": 1})
    in_zone = recognise(title("junior"), "CQ", [general, scoped], TODAY, "zone")
    elsewhere = recognise(title("junior"), "CQ", [general, scoped], TODAY)
    assert in_zone is not None
    assert in_zone.rule == "scoped"
    assert elsewhere is not None
    assert elsewhere.rule == "general"
