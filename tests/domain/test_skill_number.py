"""Skill levels and pluggable skill-certificate number formats."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from app.domain.errors import DomainError
from app.domain.skill_number import (
    DEFAULT_FORMATS,
    LegacyQualificationFormat,
    National2020Format,
    NumberFormat,
    SkillNumber,
    validate_skill_level,
    validate_skill_number,
)


def national(evaluator: str = "S", province: str = "51", year: str = "21", level: int = 3) -> str:
    return f"{evaluator}0000{province}000123{year}{level}000045"


def test_national_number_decoded() -> None:
    number = national(evaluator="Y", province="50", year="23", level=2)
    assert len(number) == 22
    assert validate_skill_number(number, 2) == SkillNumber(
        number=number,
        format_name="national-2020",
        evaluator_type="Y",
        province_code="50",
        issue_year_2digit="23",
    )


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_national_level_digit_must_match(level: int) -> None:
    assert validate_skill_number(national(level=level), level).number == national(level=level)
    for other in {1, 2, 3, 4, 5} - {level}:
        with pytest.raises(DomainError) as caught:
            validate_skill_number(national(level=level), other)
        assert caught.value.code == "skill_number.level_mismatch"


@pytest.mark.parametrize("digit", ["0", "6", "9"])
def test_level_digit_outside_1_to_5_never_matches(digit: str) -> None:
    number = national()[:15] + digit + national()[16:]
    for level in range(1, 6):
        with pytest.raises(DomainError) as caught:
            validate_skill_number(number, level)
        assert caught.value.code == "skill_number.level_mismatch"


@pytest.mark.parametrize("province", ["00", "99", "71", "81"])
def test_national_province_checked(province: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_skill_number(national(province=province), 3)
    assert caught.value.code == "skill_number.region"


@pytest.mark.parametrize("year", ["00", "15", "18"])
def test_national_issue_year_before_the_scheme_rejected(year: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_skill_number(national(year=year), 3)
    assert caught.value.code == "skill_number.issue_year"


def test_national_2019_example_year_accepted() -> None:
    assert validate_skill_number(national(year="19"), 3).issue_year_2digit == "19"


def test_normalised() -> None:
    spaced = " " + " ".join(national().lower()[i : i + 4] for i in range(0, 22, 4)) + "\u3000"
    assert validate_skill_number(spaced, 3).number == national()
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in national().lower())
    assert validate_skill_number(full_width, 3).number == national()


def test_legacy_qualification_has_no_level_check() -> None:
    for level in range(1, 6):
        result = validate_skill_number("1051000000123456", level)
        assert result == SkillNumber(number="1051000000123456", format_name="legacy-qualification")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "X" + national()[1:],
        national()[:-1],
        national() + "0",
        national()[:5] + "-" + national()[5:],
        national()[:21] + "\u00d7",
        "105100000012345",
        "10510000001234567",
        "A051000000123456",
    ],
)
def test_unknown_shape_rejected(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_skill_number(raw, 3)
    assert caught.value.code == "skill_number.format"
    assert raw.strip() == "" or raw not in str(caught.value)


@dataclass(frozen=True)
class ChongqingLocalFormat:
    """A made-up regional scheme, to show that formats plug in."""

    name: str = "cq-local"

    def matches(self, number: str) -> bool:
        return re.fullmatch(r"CQ[0-9]{10}", number) is not None

    def check(self, number: str, level: int) -> None:
        if number[-1] != str(level):
            raise DomainError("skill_number.level_mismatch", "Level differs.")

    def describe(self, number: str) -> SkillNumber:
        return SkillNumber(number=number, format_name=self.name, province_code="50")


def test_formats_are_pluggable() -> None:
    formats: tuple[NumberFormat, ...] = (*DEFAULT_FORMATS, ChongqingLocalFormat())
    assert validate_skill_number("cq0000000004", 4, formats).format_name == "cq-local"
    with pytest.raises(DomainError) as caught:
        validate_skill_number("CQ0000000004", 4)
    assert caught.value.code == "skill_number.format"
    with pytest.raises(DomainError) as caught:
        validate_skill_number("1051000000123456", 3, (National2020Format(),))
    assert caught.value.code == "skill_number.format"


def test_format_names() -> None:
    assert [f.name for f in DEFAULT_FORMATS] == ["national-2020", "legacy-qualification"]
    assert LegacyQualificationFormat().matches("1051000000123456")
    assert National2020Format().matches(national())
    assert not National2020Format().matches(national()[:-1])
    assert not LegacyQualificationFormat().matches(national())


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_skill_levels_accepted(level: int) -> None:
    assert validate_skill_level(level) == level


@pytest.mark.parametrize("level", [0, 6, -1, 100, True, False])
def test_skill_levels_rejected(level: int) -> None:
    with pytest.raises(DomainError) as caught:
        validate_skill_level(level)
    assert caught.value.code == "skill_level.range"


def test_level_is_checked_before_the_number() -> None:
    with pytest.raises(DomainError) as caught:
        validate_skill_number(national(level=3), 7)
    assert caught.value.code == "skill_level.range"
