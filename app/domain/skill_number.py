"""Vocational skill levels and skill-certificate numbers, validated by pluggable per-scheme formats."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from app.domain.errors import DomainError
from app.domain.identity import MAINLAND_PROVINCE_CODES, normalize_document_number

# 一级/高级技师 (1) ... 五级/初级工 (5). The "new eight-level" scheme is unconfirmed; extend here if it lands.
SKILL_LEVELS: range = range(1, 6)


@dataclass(frozen=True)
class SkillNumber:
    """A validated certificate number and which scheme it belongs to.

    The decoded fields are filled only by schemes that encode them (national-2020), otherwise None.
    """

    number: str
    format_name: str
    evaluator_type: str | None = None
    province_code: str | None = None
    issue_year_2digit: str | None = None


class NumberFormat(Protocol):
    """One numbering scheme. `matches` looks at the shape only; `check` raises DomainError on bad content."""

    @property
    def name(self) -> str: ...

    def matches(self, number: str) -> bool: ...

    def check(self, number: str, level: int) -> None: ...

    def describe(self, number: str) -> SkillNumber: ...


# Unconfirmed: MOHRSS systems commonly give 新疆生产建设兵团 (which runs its own skill evaluation) the
# province-level code 66. It is accepted so that such certificates are not rejected; the table of the 2020
# coding rules ("表4") was not available to confirm it.
SKILL_PROVINCE_CODES: frozenset[str] = MAINLAND_PROVINCE_CODES | {"66"}


@dataclass(frozen=True)
class National2020Format:
    """人社部 职业技能等级证书 numbers (since 2020): 22 characters, `^[SY]\\d{21}$`.

    1 evaluator type (Y employer, S social training/evaluation organisation), 2-5 evaluator code (0000
    when registered at province level only), 6-7 province, 8-13 site serial, 14-15 issue year, 16 level,
    17-22 serial.
    """

    name: str = "national-2020"
    province_codes: frozenset[str] = field(default=SKILL_PROVINCE_CODES)
    # The coding rules were published with a 2019 example, so earlier years are typos.
    earliest_year_2digit: int = 19

    def matches(self, number: str) -> bool:
        return re.fullmatch(r"[SY][0-9]{21}", number) is not None

    def check(self, number: str, level: int) -> None:
        if number[5:7] not in self.province_codes:
            raise DomainError("skill_number.region", "The certificate number has an unknown province code.")
        if int(number[13:15]) < self.earliest_year_2digit:
            raise DomainError(
                "skill_number.issue_year", "The issue year in the certificate number is too early."
            )
        if number[15] != str(level):
            raise DomainError(
                "skill_number.level_mismatch",
                "The level digit of the certificate number differs from the level.",
            )

    def describe(self, number: str) -> SkillNumber:
        return SkillNumber(
            number=number,
            format_name=self.name,
            evaluator_type=number[0],
            province_code=number[5:7],
            issue_year_2digit=number[13:15],
        )


@dataclass(frozen=True)
class LegacyQualificationFormat:
    """Pre-2020 职业资格证书 numbers: 16 digits.

    Published descriptions give 1-2 issue year, 3-4 province *or* State Council industry department,
    5-6 city, 7 institution type, then institution serial and certificate category/level; the exact position
    of the level could not be confirmed, so no level check is possible and the province is not checked
    either (3-4 is not always a province). Only the shape is validated.
    """

    name: str = "legacy-qualification"

    def matches(self, number: str) -> bool:
        return re.fullmatch(r"[0-9]{16}", number) is not None

    def check(self, number: str, level: int) -> None:
        return None

    def describe(self, number: str) -> SkillNumber:
        return SkillNumber(number=number, format_name=self.name)


DEFAULT_FORMATS: tuple[NumberFormat, ...] = (National2020Format(), LegacyQualificationFormat())


def validate_skill_level(level: int) -> int:
    """Validate a skill level code 1-5 and return it."""
    # bool is an int subclass; True must not pass as level 1.
    if isinstance(level, bool) or level not in SKILL_LEVELS:
        raise DomainError("skill_level.range", "A skill level is a whole number from 1 to 5.")
    return level


def validate_skill_number(
    raw: str, level: int, formats: Sequence[NumberFormat] = DEFAULT_FORMATS
) -> SkillNumber:
    """Validate a certificate number against the first scheme whose shape it matches, for the given level."""
    validate_skill_level(level)
    number = normalize_document_number(raw)
    for number_format in formats:
        if number_format.matches(number):
            number_format.check(number, level)
            return number_format.describe(number)
    raise DomainError("skill_number.format", "The certificate number matches no known numbering scheme.")
