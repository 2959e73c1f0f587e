"""Shapes of code-table keys (title and occupation codes) and the fixed level vocabularies."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from app.domain.errors import DomainError
from app.domain.identity import normalize_document_number


class TitleLevel(StrEnum):
    """Professional-title levels (职称级别); 助理级 and 员级 together form 初级."""

    SENIOR_FULL = "senior_full"
    SENIOR_DEPUTY = "senior_deputy"
    INTERMEDIATE = "intermediate"
    ASSISTANT = "assistant"
    JUNIOR = "junior"


TITLE_LEVEL_LABELS: Mapping[TitleLevel, str] = MappingProxyType(
    {
        TitleLevel.SENIOR_FULL: "正高级",
        TitleLevel.SENIOR_DEPUTY: "副高级",
        TitleLevel.INTERMEDIATE: "中级",
        TitleLevel.ASSISTANT: "助理级",
        TitleLevel.JUNIOR: "员级",
    }
)

# 川渝职称互认 (2021): only these two levels are recognised directly across the regions.
_SENIOR_LEVELS = frozenset({TitleLevel.SENIOR_FULL, TitleLevel.SENIOR_DEPUTY})


class IssuerLevel(StrEnum):
    """Administrative level of an issuing body; recognition rules depend on it."""

    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"


_TITLE_CODE = re.compile(r"[0-9]{4}")
# 国家职业分类大典: major group 1-8, then middle, minor and occupation (2 digits each); an optional fifth part
# names a work type (工种). Only the shape is checked: the code list itself is data.
_OCCUPATION_CODE = re.compile(r"[1-8]-[0-9]{2}-[0-9]{2}-[0-9]{2}(?:-[0-9]{2})?")
# Dash look-alikes that survive NFKC (hyphen, non-breaking hyphen, figure dash, en/em dash, minus sign) come
# in from word processors; they mean "-" here.
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))


def validate_title_code(raw: str) -> str:
    """Validate the shape of a MOHRSS 4-digit title code (2-digit series + 2-digit sequence)."""
    code = normalize_document_number(raw)
    if not _TITLE_CODE.fullmatch(code):
        raise DomainError("title_code.format", "A title code has exactly 4 digits.")
    return code


def series_of_title_code(code: str) -> str:
    """Return the 2-digit series of a title code (the level is not derivable from the digits)."""
    return validate_title_code(code)[:2]


def validate_occupation_code(raw: str) -> str:
    """Validate the shape of an occupation code `X-XX-XX-XX`, optionally with a work-type suffix `-XX`."""
    code = normalize_document_number(unicodedata.normalize("NFKC", raw).translate(_DASHES))
    if not _OCCUPATION_CODE.fullmatch(code):
        raise DomainError(
            "occupation_code.format",
            "An occupation code looks like 6-31-01-03 (major group 1-8), optionally followed by -NN.",
        )
    return code


def is_senior(level: TitleLevel) -> bool:
    """Tell whether a title level is senior (正高级 or 副高级)."""
    return level in _SENIOR_LEVELS
