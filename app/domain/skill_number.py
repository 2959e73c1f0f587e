"""Vocational skill levels and skill-certificate numbers, checked against numbering formats given as data.

Which levels exist, their names and order are a code table (app/reference/data/skill_levels.json, the
`skill_levels` table); here a level is only checked to be a plausible code. The numbering formats are data
too (app/reference/data/skill_number_formats.json): `build_number_formats` turns their definitions into
validators, so a format is added or corrected by editing the data, never by writing a class.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from app.domain.errors import DomainError
from app.domain.identity import MAINLAND_PROVINCE_CODES, normalize_document_number

# A level is a code, not a count: which codes exist is the code table's business (an admin adds a level there
# without a change here). The bound only refuses what cannot be a code at all (0, negative, a typo of 30000);
# two digits leave room for far more levels than any scheme has.
MAX_SKILL_LEVEL_CODE = 99

# Unconfirmed: MOHRSS systems commonly give 新疆生产建设兵团 (which runs its own skill evaluation) the
# province-level code 66. It is accepted so that such certificates are not rejected; the table of the 2020
# coding rules ("表4") was not available to confirm it.
SKILL_PROVINCE_CODES: frozenset[str] = MAINLAND_PROVINCE_CODES | {"66"}


@dataclass(frozen=True)
class SkillNumber:
    """A validated certificate number and which format it belongs to.

    The decoded fields are filled only when the format says where they are, otherwise None.
    """

    number: str
    format_name: str
    evaluator_type: str | None = None
    province_code: str | None = None
    issue_year_2digit: str | None = None


@dataclass(frozen=True)
class NumberFormat:
    """One numbering format, built from its data definition. Positions are 0-based here (1-based in the data).

    `level_characters` maps the character at `level_at` to a level code. A number whose character there is
    not in the map does not belong to this format (it may belong to a later one with the same shape). With
    `level_enforced` false (a level position that is reported but unconfirmed) the level character neither
    decides the format nor refuses a number: refusing on an unconfirmed layout would turn away real ones.
    """

    name: str
    pattern: re.Pattern[str]
    level_at: int | None = None
    level_characters: Mapping[str, int] = field(default_factory=dict)
    level_enforced: bool = True
    evaluator_type_at: int | None = None
    province_at: int | None = None
    issue_year_at: int | None = None
    earliest_year_2digit: int | None = None
    province_codes: frozenset[str] = SKILL_PROVINCE_CODES

    def matches(self, number: str) -> bool:
        """The number has this format's shape (whatever its level character)."""
        return self.pattern.fullmatch(number) is not None

    def claims(self, number: str) -> bool:
        """The number has this format's shape and, if the format encodes a level, a level character of it."""
        if self.pattern.fullmatch(number) is None:
            return False
        if self.level_at is None or not self.level_enforced:
            return True
        return number[self.level_at] in self.level_characters

    def check(self, number: str, level: int) -> None:
        """Raise DomainError when a claimed number's checked positions are wrong or its level differs."""
        at = self.province_at
        if at is not None and number[at : at + 2] not in self.province_codes:
            raise DomainError("skill_number.region", "The certificate number has an unknown province code.")
        at, earliest = self.issue_year_at, self.earliest_year_2digit
        if at is not None and earliest is not None and int(number[at : at + 2]) < earliest:
            raise DomainError(
                "skill_number.issue_year", "The issue year in the certificate number is too early."
            )
        at = self.level_at
        if at is not None and self.level_enforced and self.level_characters[number[at]] != level:
            raise DomainError(
                "skill_number.level_mismatch",
                "The level character of the certificate number differs from the level.",
            )

    def describe(self, number: str) -> SkillNumber:
        return SkillNumber(
            number=number,
            format_name=self.name,
            evaluator_type=slice_at(number, self.evaluator_type_at, 1),
            province_code=slice_at(number, self.province_at, 2),
            issue_year_2digit=slice_at(number, self.issue_year_at, 2),
        )


def slice_at(number: str, start: int | None, length: int) -> str | None:
    return None if start is None else number[start : start + length]


def build_number_format(definition: Mapping[str, Any]) -> NumberFormat:
    """A validator from one entry of skill_number_formats.json (its keys: app/reference/data/README.md)."""
    code = definition["code"]
    length = int(definition["length"])

    def index(key: str, width: int) -> int | None:
        position = definition.get(key)
        if position is None:
            return None
        # 1-based in the data, as the published layouts count; the field must lie inside the number.
        if not isinstance(position, int) or not 1 <= position <= length - width + 1:
            raise ValueError(
                f"skill number format {code}: {key} {position!r} lies outside {length} characters"
            )
        return position - 1

    characters = definition.get("level_characters") or {}
    if any(len(ch) != 1 or not isinstance(lv, int) or isinstance(lv, bool) for ch, lv in characters.items()):
        raise ValueError(
            f"skill number format {code}: level_characters maps single characters to level codes"
        )
    level_at = index("level_position", 1)
    if (level_at is None) != (not characters):
        raise ValueError(f"skill number format {code}: level_position and level_characters go together")
    earliest = definition.get("earliest_issue_year")
    return NumberFormat(
        name=code,
        # ASCII: `\d` must not take other scripts' digits, which NFKC leaves as they are.
        pattern=re.compile(definition["pattern"], re.ASCII),
        level_at=level_at,
        level_characters=MappingProxyType(dict(characters)),
        level_enforced=bool(definition.get("level_enforced", True)),
        evaluator_type_at=index("evaluator_type_position", 1),
        province_at=index("province_position", 2),
        issue_year_at=index("issue_year_position", 2),
        earliest_year_2digit=None if earliest is None else int(earliest) % 100,
    )


def build_number_formats(definitions: Iterable[Mapping[str, Any]]) -> tuple[NumberFormat, ...]:
    """The validators in the data's order, which is the order numbers are tried in."""
    formats = tuple(build_number_format(definition) for definition in definitions)
    names = [f.name for f in formats]
    if len(set(names)) != len(names):
        raise ValueError(f"skill number formats: duplicate codes in {names}")
    return formats


def validate_skill_level(level: int) -> int:
    """Validate that a skill level is a plausible level code (whether it exists is the code table's check)."""
    # bool is an int subclass; True must not pass as level 1.
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_SKILL_LEVEL_CODE:
        raise DomainError("skill_level.range", f"A skill level is a code from 1 to {MAX_SKILL_LEVEL_CODE}.")
    return level


def validate_skill_number(raw: str, level: int, formats: Sequence[NumberFormat]) -> SkillNumber:
    """Validate a certificate number for the given level against the first format that claims it.

    Formats may share a shape (the eight-level variant has the national-2020 one) and are told apart by the
    level character. A number of a known shape whose level character no format knows is a level mismatch, not
    an unknown format: the clerk most likely typed the level or the number wrongly.
    """
    validate_skill_level(level)
    number = normalize_document_number(raw)
    shaped = False
    for number_format in formats:
        if number_format.claims(number):
            number_format.check(number, level)
            return number_format.describe(number)
        shaped = shaped or number_format.matches(number)
    if shaped:
        raise DomainError(
            "skill_number.level_mismatch",
            "The level character of the certificate number is no level of its numbering format.",
        )
    raise DomainError("skill_number.format", "The certificate number matches no known numbering scheme.")
