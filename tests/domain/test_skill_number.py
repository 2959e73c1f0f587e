"""Skill levels and skill-certificate numbers, checked by validators built from format definitions (data)."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import DomainError
from app.domain.skill_number import (
    MAX_SKILL_LEVEL_CODE,
    SkillNumber,
    build_number_format,
    build_number_formats,
    validate_skill_level,
    validate_skill_number,
)
from app.reference.number_formats import SKILL_NUMBER_FORMATS, read_number_format_definitions

FORMATS = SKILL_NUMBER_FORMATS


def national(evaluator: str = "S", province: str = "51", year: str = "21", level: int = 3) -> str:
    return f"{evaluator}0000{province}000123{year}{level}000045"


def legacy(level_digit: str = "3") -> str:
    """A 16-digit 职业资格 number with the given digit at position 11."""
    return f"1051000000{level_digit}23456"


def test_national_number_decoded() -> None:
    number = national(evaluator="Y", province="50", year="23", level=2)
    assert len(number) == 22
    assert validate_skill_number(number, 2, FORMATS) == SkillNumber(
        number=number,
        format_name="national-2020",
        evaluator_type="Y",
        province_code="50",
        issue_year_2digit="23",
    )


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_national_level_digit_must_match(level: int) -> None:
    assert validate_skill_number(national(level=level), level, FORMATS).number == national(level=level)
    for other in set(range(1, 9)) - {level}:
        with pytest.raises(DomainError) as caught:
            validate_skill_number(national(level=level), other, FORMATS)
        assert caught.value.code == "skill_number.level_mismatch"


@pytest.mark.parametrize("digit", ["0", "9"])
def test_a_level_digit_no_format_knows_is_a_mismatch(digit: str) -> None:
    number = national()[:15] + digit + national()[16:]
    for level in range(1, 9):
        with pytest.raises(DomainError) as caught:
            validate_skill_number(number, level, FORMATS)
        assert caught.value.code == "skill_number.level_mismatch"


@pytest.mark.parametrize(("level", "name"), [(6, "学徒工"), (7, "特级技师"), (8, "首席技师")])
def test_new_levels_take_the_eight_level_variant(level: int, name: str) -> None:
    number = national(evaluator="Y", province="50", year="25", level=level)
    parsed = validate_skill_number(number, level, FORMATS)
    assert parsed.format_name == "national-eight-level"
    assert (parsed.province_code, parsed.issue_year_2digit) == ("50", "25")
    for other in set(range(1, 9)) - {level}:
        with pytest.raises(DomainError) as caught:
            validate_skill_number(number, other, FORMATS)
        assert caught.value.code == "skill_number.level_mismatch"


def test_the_variant_checks_its_own_earliest_year() -> None:
    # The new levels date from 2022: a 特级技师 number of 2021 is refused, a 2021 number of level 3 is not.
    with pytest.raises(DomainError) as caught:
        validate_skill_number(national(year="21", level=7), 7, FORMATS)
    assert caught.value.code == "skill_number.issue_year"
    first_year = validate_skill_number(national(year="22", level=7), 7, FORMATS)
    assert first_year.format_name == "national-eight-level"
    assert validate_skill_number(national(year="21", level=3), 3, FORMATS).format_name == "national-2020"


@pytest.mark.parametrize("province", ["00", "99", "71", "81"])
def test_national_province_checked(province: str) -> None:
    for level in (3, 7):
        with pytest.raises(DomainError) as caught:
            validate_skill_number(national(province=province, year="23", level=level), level, FORMATS)
        assert caught.value.code == "skill_number.region"


@pytest.mark.parametrize("year", ["00", "15", "18"])
def test_national_issue_year_before_the_scheme_rejected(year: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_skill_number(national(year=year), 3, FORMATS)
    assert caught.value.code == "skill_number.issue_year"


def test_national_2019_example_year_accepted() -> None:
    assert validate_skill_number(national(year="19"), 3, FORMATS).issue_year_2digit == "19"


def test_normalised() -> None:
    spaced = " " + " ".join(national().lower()[i : i + 4] for i in range(0, 22, 4)) + "\u3000"
    assert validate_skill_number(spaced, 3, FORMATS).number == national()
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in national().lower())
    assert validate_skill_number(full_width, 3, FORMATS).number == national()


@pytest.mark.parametrize("digit", ["0", "1", "3", "5", "6", "9"])
def test_a_legacy_level_digit_is_not_enforced_while_its_position_is_unconfirmed(digit: str) -> None:
    """The level is reported at position 11 (unconfirmed, `level_enforced: false` in the data): a digit there
    that disagrees with the level, or is no level at all, does not refuse a real certificate."""
    for level in range(1, 9):
        assert validate_skill_number(legacy(digit), level, FORMATS) == SkillNumber(
            number=legacy(digit), format_name="legacy-qualification"
        )


def test_an_enforced_level_position_refuses_a_disagreeing_digit() -> None:
    """The same layout with the position confirmed (`level_enforced` true, the default) refuses it."""
    definition = next(d for d in read_number_format_definitions() if d["code"] == "legacy-qualification")
    enforced = build_number_formats([{**definition, "level_enforced": True}])
    assert validate_skill_number(legacy("3"), 3, enforced).format_name == "legacy-qualification"
    for number, level in ((legacy("3"), 4), (legacy("9"), 3)):
        with pytest.raises(DomainError) as caught:
            validate_skill_number(number, level, enforced)
        assert caught.value.code == "skill_number.level_mismatch"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "X" + national()[1:],
        national()[:-1],
        national() + "0",
        national()[:5] + "-" + national()[5:],
        national()[:21] + "\u00d7",
        national()[:20] + "\u0663" + national()[21:],  # ٣: a digit, but not an ASCII one
        "105100000012345",
        "10510000001234567",
        "A051000000123456",
    ],
)
def test_unknown_shape_rejected(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_skill_number(raw, 3, FORMATS)
    assert caught.value.code == "skill_number.format"
    assert raw.strip() == "" or raw not in str(caught.value)


def definition(**overrides: Any) -> dict[str, Any]:
    """A made-up regional format: `CQ` and 10 digits, the level in the last place (`A` = 3), no province."""
    base: dict[str, Any] = {
        "code": "cq-local",
        "pattern": "^CQ[0-9]{9}[0-9A]$",
        "length": 12,
        "evaluator_type_position": None,
        "province_position": None,
        "issue_year_position": 3,
        "earliest_issue_year": 2024,
        "level_position": 12,
        "level_characters": {"A": 3, "7": 7},
    }
    return {**base, **overrides}


def test_a_format_is_built_from_its_definition_alone() -> None:
    formats = (*FORMATS, build_number_format(definition()))
    parsed = validate_skill_number("cq240000000a", 3, formats)
    assert parsed == SkillNumber(number="CQ240000000A", format_name="cq-local", issue_year_2digit="24")
    assert validate_skill_number("CQ2500000007", 7, formats).format_name == "cq-local"
    for number, level, code in [
        ("CQ2300000007", 7, "skill_number.issue_year"),
        ("CQ250000000A", 7, "skill_number.level_mismatch"),
        ("CQ2500000003", 3, "skill_number.level_mismatch"),  # 3 is not a level character of this format
    ]:
        with pytest.raises(DomainError) as caught:
            validate_skill_number(number, level, formats)
        assert caught.value.code == code, number
    # Without the definition, the same number is of no known format.
    with pytest.raises(DomainError) as caught:
        validate_skill_number("CQ250000000A", 3, FORMATS)
    assert caught.value.code == "skill_number.format"


def test_a_format_without_a_level_position_takes_any_level() -> None:
    formats = build_number_formats([definition(level_position=None, level_characters={})])
    for level in (1, 6, 42):
        assert validate_skill_number("CQ2500000007", level, formats).format_name == "cq-local"


def test_formats_are_tried_in_order() -> None:
    first = definition(code="first", level_characters={"7": 7})
    second = definition(code="second", level_characters={"7": 8, "8": 8})
    formats = build_number_formats([first, second])
    assert validate_skill_number("CQ2500000007", 7, formats).format_name == "first"
    assert validate_skill_number("CQ2500000008", 8, formats).format_name == "second"
    # The first format claims a 7 and decides: the second's other meaning of 7 is never consulted.
    with pytest.raises(DomainError) as caught:
        validate_skill_number("CQ2500000007", 8, formats)
    assert caught.value.code == "skill_number.level_mismatch"


@pytest.mark.parametrize(
    "overrides",
    [
        {"level_position": 13},
        {"level_position": 0},
        {"issue_year_position": 12},
        {"province_position": "6"},
        {"level_position": None},
        {"level_characters": {}},
        {"level_characters": {"AB": 3}},
        {"level_characters": {"A": "3"}},
        {"level_characters": {"A": True}},
    ],
)
def test_an_inconsistent_definition_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="cq-local"):
        build_number_format(definition(**overrides))


def test_duplicate_format_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        build_number_formats([definition(), definition()])


def test_the_shipped_formats_are_the_data_in_its_order() -> None:
    definitions = read_number_format_definitions()
    assert [f.name for f in FORMATS] == [d["code"] for d in definitions]
    assert [f.name for f in FORMATS] == ["national-2020", "national-eight-level", "legacy-qualification"]
    for d in definitions:
        example = d["example"]
        assert validate_skill_number(example["number"], example["level"], FORMATS).format_name == d["code"]


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5, 6, 7, 8, 42, MAX_SKILL_LEVEL_CODE])
def test_skill_level_codes_accepted(level: int) -> None:
    # Any plausible code: which exist is the skill_levels table's business, not this module's.
    assert validate_skill_level(level) == level


@pytest.mark.parametrize("level", [0, -1, MAX_SKILL_LEVEL_CODE + 1, 30000, True, False, 3.0, "3"])
def test_skill_levels_rejected(level: Any) -> None:
    with pytest.raises(DomainError) as caught:
        validate_skill_level(level)
    assert caught.value.code == "skill_level.range"


def test_level_is_checked_before_the_number() -> None:
    with pytest.raises(DomainError) as caught:
        validate_skill_number(national(level=3), 0, FORMATS)
    assert caught.value.code == "skill_level.range"
