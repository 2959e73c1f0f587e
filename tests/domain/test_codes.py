"""Title and occupation code shapes and the level vocabularies."""

from __future__ import annotations

import pytest

from app.domain.codes import (
    TITLE_LEVEL_LABELS,
    IssuerLevel,
    TitleLevel,
    is_senior,
    series_of_title_code,
    validate_occupation_code,
    validate_title_code,
)
from app.domain.errors import DomainError


@pytest.mark.parametrize(
    ("raw", "expected"), [("0501", "0501"), (" 0421 ", "0421"), ("０１０２", "0102"), ("0 1 0 3", "0103")]
)
def test_title_codes_accepted(raw: str, expected: str) -> None:
    assert validate_title_code(raw) == expected


@pytest.mark.parametrize("raw", ["", "501", "05011", "05a1", "05-01", "٠٥٠١", "0501\u00d7"])
def test_title_codes_rejected(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_title_code(raw)
    assert caught.value.code == "title_code.format"


@pytest.mark.parametrize(
    ("code", "series"), [("0101", "01"), ("0505", "05"), ("0425", "04"), ("２７０１", "27")]
)
def test_series_of_title_code(code: str, series: str) -> None:
    assert series_of_title_code(code) == series


def test_series_of_bad_code_rejected() -> None:
    with pytest.raises(DomainError) as caught:
        series_of_title_code("5")
    assert caught.value.code == "title_code.format"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6-31-01-03", "6-31-01-03"),
        ("1-01-00-00", "1-01-00-00"),
        ("8-00-00-00", "8-00-00-00"),
        ("6-31-01-03-01", "6-31-01-03-01"),
        ("６－３１－０１－０３", "6-31-01-03"),
        ("6\u201331\u201301\u201303", "6-31-01-03"),
        ("6\u221231-01-03", "6-31-01-03"),
        (" 6-31-01-03 ", "6-31-01-03"),
    ],
)
def test_occupation_codes_accepted(raw: str, expected: str) -> None:
    assert validate_occupation_code(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0-31-01-03",
        "9-31-01-03",
        "6-3-01-03",
        "6-31-01",
        "6310103",
        "6-31-01-03-1",
        "6-31-01-03-01-01",
        "6_31_01_03",
        "6-31-01-0a",
    ],
)
def test_occupation_codes_rejected(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_occupation_code(raw)
    assert caught.value.code == "occupation_code.format"


def test_title_level_labels() -> None:
    assert dict(TITLE_LEVEL_LABELS) == {
        TitleLevel.SENIOR_FULL: "正高级",
        TitleLevel.SENIOR_DEPUTY: "副高级",
        TitleLevel.INTERMEDIATE: "中级",
        TitleLevel.ASSISTANT: "助理级",
        TitleLevel.JUNIOR: "员级",
    }
    assert [level.value for level in TitleLevel] == [
        "senior_full", "senior_deputy", "intermediate", "assistant", "junior"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("level", "senior"),
    [
        (TitleLevel.SENIOR_FULL, True),
        (TitleLevel.SENIOR_DEPUTY, True),
        (TitleLevel.INTERMEDIATE, False),
        (TitleLevel.ASSISTANT, False),
        (TitleLevel.JUNIOR, False),
    ],
)
def test_is_senior(level: TitleLevel, senior: bool) -> None:
    assert is_senior(level) is senior


def test_issuer_levels() -> None:
    assert [level.value for level in IssuerLevel] == ["province", "city", "district"]
    assert IssuerLevel("city") is IssuerLevel.CITY
