"""Resident ID and other personal document numbers: vectors, worked values, properties, error hygiene."""

from __future__ import annotations

import json
import pickle
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainError
from app.domain.identity import (
    MAINLAND_PROVINCE_CODES,
    PROVINCE_CODES,
    RESIDENT_ID_WEIGHTS,
    IdType,
    LegacyPolicy,
    compute_resident_id_check,
    normalize_document_number,
    parse_resident_id,
    validate_document_number,
)

VECTORS = Path(__file__).parent.parent / "vectors" / "cn-ids"
RIC = json.loads((VECTORS / "gb11643_ric.json").read_text(encoding="utf-8"))
TODAY = date(2025, 6, 1)

# stdnum's reasons mapped to this service's codes; a vector missing here fails
# test_every_invalid_vector_is_mapped.
RIC_INVALID_CODES = {
    "T60426199101010078": "id_number.format",
    "360426199113010079": "id_number.birth_date",
    "36042619910102009X": "id_number.checksum",
    "990426199112010074": "id_number.region",
}


def with_check(first17: str) -> str:
    return first17 + compute_resident_id_check(first17)


def full_width(text: str) -> str:
    # ASCII letters and digits to their full-width forms (U+FF01..U+FF5E mirror U+0021..U+007E).
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


# --- vectors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", RIC["valid"], ids=lambda v: v["value"])
def test_valid_vector_accepted(vector: dict[str, Any]) -> None:
    parsed = parse_resident_id(vector["value"], today=TODAY)
    assert parsed.number == vector["value"]
    assert parsed.upgraded_from_legacy is False
    digits = vector["value"][6:14]
    expected_birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    if "birth_date" in vector:
        expected_birth = date.fromisoformat(vector["birth_date"])
    assert parsed.birth_date == expected_birth
    assert parsed.address_code == vector["value"][:6]
    if "input_variant" in vector:
        assert parse_resident_id(vector["input_variant"], today=TODAY).number == vector["value"]


def test_vector_birth_dates_are_read_from_the_number() -> None:
    # Independent of the loop above: the two vectors that state a birth date.
    dated = {v["value"]: v["birth_date"] for v in RIC["valid"] if "birth_date" in v}
    assert dated == {"360426199101010071": "1991-01-01", "44011320141005001X": "2014-10-05"}
    for number, born in dated.items():
        assert parse_resident_id(number, today=TODAY).birth_date == date.fromisoformat(born)


def test_every_invalid_vector_is_mapped() -> None:
    assert {v["value"] for v in RIC["invalid"]} == set(RIC_INVALID_CODES)


@pytest.mark.parametrize(("number", "code"), sorted(RIC_INVALID_CODES.items()))
def test_invalid_vector_rejected_with_code(number: str, code: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_resident_id(number, today=TODAY)
    assert caught.value.code == code


@pytest.mark.parametrize("vector", RIC["stdnum_region_year_strict_rejects"], ids=lambda v: v["value"])
def test_county_code_not_checked_against_birth_year(vector: dict[str, Any]) -> None:
    assert parse_resident_id(vector["value"], today=TODAY).number == vector["value"]


# --- the algorithm ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first17", "check"), [("37010119010203997", "3"), ("51310119820113001", "4"), ("44011320141005001", "X")]
)
def test_worked_check_values(first17: str, check: str) -> None:
    assert compute_resident_id_check(first17) == check


def test_weights_are_powers_of_two_mod_11() -> None:
    assert tuple(pow(2, 17 - i, 11) for i in range(17)) == RESIDENT_ID_WEIGHTS
    assert RESIDENT_ID_WEIGHTS == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@pytest.mark.parametrize(
    "first17", ["", "1234567890123456", "123456789012345678", "1234567890123456X", "٥" * 17]
)
def test_check_needs_17_ascii_digits(first17: str) -> None:
    with pytest.raises(DomainError) as caught:
        compute_resident_id_check(first17)
    assert caught.value.code == "id_number.format"


def test_province_table() -> None:
    assert len(PROVINCE_CODES) == 34
    assert {"50", "51", "71", "81", "82"} <= set(PROVINCE_CODES)
    assert len(MAINLAND_PROVINCE_CODES) == 31
    assert "99" not in PROVINCE_CODES


# --- decoding and individual rules -----------------------------------------------------------------------


def test_decodes_fields() -> None:
    parsed = parse_resident_id(with_check("51010419900307002"), today=TODAY)
    assert (parsed.address_code, parsed.province_code) == ("510104", "51")
    assert parsed.birth_date == date(1990, 3, 7)
    assert parsed.sex == "female"
    assert parse_resident_id(with_check("51010419900307001"), today=TODAY).sex == "male"


def test_chongqing_code_for_someone_born_before_1997() -> None:
    # Chongqing (50) became a province-level municipality in 1997; older holders carry 50xxxx numbers today.
    assert parse_resident_id(with_check("50010119800101001"), today=TODAY).province_code == "50"


@pytest.mark.parametrize("province", ["00", "10", "19", "66", "71", "81", "82", "83", "99"])
def test_unknown_or_non_mainland_province_rejected(province: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_resident_id(with_check(f"{province}010119900101001"), today=TODAY)
    assert caught.value.code == "id_number.region"


@pytest.mark.parametrize("born", ["19900230", "19900001", "19901301", "19000229", "20230229", "18791231"])
def test_bad_birth_dates_rejected(born: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_resident_id(with_check(f"510104{born}001"), today=TODAY)
    assert caught.value.code == "id_number.birth_date"


def test_birth_date_bounds() -> None:
    assert parse_resident_id(with_check("51010418800101001"), today=TODAY).birth_date == date(1880, 1, 1)
    assert parse_resident_id(with_check("51010420000229001"), today=TODAY).birth_date == date(2000, 2, 29)
    born_today = with_check(f"510104{TODAY:%Y%m%d}001")
    assert parse_resident_id(born_today, today=TODAY).birth_date == TODAY
    with pytest.raises(DomainError) as caught:
        parse_resident_id(born_today, today=TODAY - timedelta(days=1))
    assert caught.value.code == "id_number.birth_date"


def test_today_defaults_to_the_clock() -> None:
    future = date.today() + timedelta(days=2)
    with pytest.raises(DomainError, match="future"):
        parse_resident_id(with_check(f"510104{future:%Y%m%d}001"))


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "51010419900101123",
        "5101041990010112345",
        "51010419900101123A",
        "X10104199001011234",
        "510104-19900101-123X",
        "510104.19900101123X",
        "٥١٠١٠٤١٩٩٠٠١٠١١٢٣٤",  # Arabic-Indic digits: NFKC leaves them, so they must not pass as digits
        "51010419900101123\u00d7",  # multiplication sign, not X
    ],
)
def test_malformed_numbers_rejected_as_format(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_resident_id(raw, today=TODAY)
    assert caught.value.code == "id_number.format"


# --- legacy 15-digit numbers -----------------------------------------------------------------------------


def test_legacy_upgraded_by_default() -> None:
    parsed = parse_resident_id("513101820113001", today=TODAY)
    assert parsed.number == "513101198201130014"  # DOMAIN.md worked value: check "4"
    assert parsed.upgraded_from_legacy is True
    assert parsed.birth_date == date(1982, 1, 13)
    assert parsed.sex == "male"


def test_legacy_rejected_by_policy() -> None:
    with pytest.raises(DomainError) as caught:
        parse_resident_id("513101820113001", legacy_policy=LegacyPolicy.REJECT, today=TODAY)
    assert caught.value.code == "id_number.legacy_rejected"
    # The policy only concerns 15-digit numbers.
    assert parse_resident_id("513101198201130014", legacy_policy=LegacyPolicy.REJECT, today=TODAY).number


@pytest.mark.parametrize(
    ("raw", "code"),
    [("990101820113001", "id_number.region"), ("513101821313001", "id_number.birth_date")],
)
def test_legacy_components_checked(raw: str, code: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_resident_id(raw, today=TODAY)
    assert caught.value.code == code


# --- normalisation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "44011320141005001X",
        "44011320141005001x",
        full_width("44011320141005001X"),
        full_width("44011320141005001x"),
        " 440113 20141005 001X ",
        "440113\u300020141005\u3000001x",
        "\t440113\n20141005001X\u00a0",
        "\ufeff440113\u200b20141005001X",
    ],
)
def test_normalisation_variants_accepted(raw: str) -> None:
    assert normalize_document_number(raw) == "44011320141005001X"
    assert parse_resident_id(raw, today=TODAY).number == "44011320141005001X"
    assert validate_document_number(IdType.RESIDENT_ID, raw, today=TODAY) == "44011320141005001X"


def test_normalisation_does_not_invent_ascii() -> None:
    # str.upper() would map "ß" to "SS" and "ı" to "I"; only ASCII letters are upper-cased.
    assert normalize_document_number("aßı") == "Aßı"


# --- properties ------------------------------------------------------------------------------------------


@st.composite
def resident_ids(draw: st.DrawFn) -> tuple[str, date, int]:
    province = draw(st.sampled_from(sorted(MAINLAND_PROVINCE_CODES)))
    area = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)))
    sequence = draw(st.integers(min_value=0, max_value=999))
    return with_check(f"{province}{area}{born:%Y%m%d}{sequence:03d}"), born, sequence


@given(resident_ids())
def test_generated_ids_accepted_and_round_trip(case: tuple[str, date, int]) -> None:
    number, born, sequence = case
    parsed = parse_resident_id(number, today=TODAY)
    assert parsed.number == number
    assert parsed.birth_date == born
    assert parsed.sex == ("male" if sequence % 2 else "female")
    assert parse_resident_id(full_width(number.lower()), today=TODAY) == parsed
    assert parse_resident_id(parsed.number, today=TODAY) == parsed


@given(resident_ids())
def test_every_single_substitution_rejected(case: tuple[str, date, int]) -> None:
    # MOD 11-2: every weight is non-zero mod 11 and two digits differ by 1..9, so any single substitution
    # changes the weighted sum mod 11; X anywhere but the end is a format error.
    number = case[0]
    for position, original in enumerate(number):
        for replacement in "0123456789X":
            if replacement == original:
                continue
            altered = number[:position] + replacement + number[position + 1 :]
            with pytest.raises(DomainError):
                parse_resident_id(altered, today=TODAY)


# --- other document types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("id_type", "raw", "expected"),
    [
        (IdType.PASSPORT, "E12345678", "E12345678"),
        (IdType.PASSPORT, "ea 1234567", "EA1234567"),
        (IdType.PASSPORT, "12345", "12345"),
        (IdType.PASSPORT, "A" * 17, "A" * 17),
        (IdType.FOREIGN_PERMANENT_RESIDENT, "usa310190010100", "USA310190010100"),
        (IdType.FOREIGN_PERMANENT_RESIDENT, with_check("93184019900101001"), with_check("93184019900101001")),
        (IdType.HMT_PERMIT, with_check("81000019900101001"), with_check("81000019900101001")),
        (IdType.HMT_PERMIT, with_check("82000019900101002"), with_check("82000019900101002")),
        (IdType.HMT_PERMIT, with_check("83000019900101003"), with_check("83000019900101003")),
        (IdType.HMT_PERMIT, "h12345678", "H12345678"),
        (IdType.HMT_PERMIT, "M1234567801", "M1234567801"),
        (IdType.HMT_PERMIT, "１２３４５６７８", "12345678"),
    ],
)
def test_other_document_types_accepted(id_type: IdType, raw: str, expected: str) -> None:
    assert validate_document_number(id_type, raw, today=TODAY) == expected


INVALID_OTHER_DOCUMENTS = [
    (IdType.PASSPORT, "E123", "id_number.format"),
    (IdType.PASSPORT, "A" * 18, "id_number.format"),
    (IdType.PASSPORT, "E1234-5678", "id_number.format"),
    (IdType.PASSPORT, "Е12345678", "id_number.format"),  # Cyrillic Е
    (IdType.FOREIGN_PERMANENT_RESIDENT, "US3101900101001", "id_number.format"),
    (IdType.FOREIGN_PERMANENT_RESIDENT, "USA31019001010", "id_number.format"),
    (IdType.FOREIGN_PERMANENT_RESIDENT, with_check("51010419900101001"), "id_number.format"),
    (IdType.FOREIGN_PERMANENT_RESIDENT, "93184019900101001" + "Y", "id_number.format"),
    (IdType.HMT_PERMIT, "840000199001010011", "id_number.format"),
    (IdType.HMT_PERMIT, "H123456789", "id_number.format"),
    (IdType.HMT_PERMIT, "K12345678", "id_number.format"),
    (IdType.HMT_PERMIT, "1234567", "id_number.format"),
    (IdType.HMT_PERMIT, with_check("81000019901301001"), "id_number.birth_date"),
]


def wrong_check(first17: str) -> str:
    right = compute_resident_id_check(first17)
    return first17 + ("0" if right != "0" else "1")


INVALID_OTHER_DOCUMENTS += [
    (IdType.FOREIGN_PERMANENT_RESIDENT, wrong_check("93184019900101001"), "id_number.checksum"),
    (IdType.HMT_PERMIT, wrong_check("81000019900101001"), "id_number.checksum"),
]


@pytest.mark.parametrize(("id_type", "raw", "code"), INVALID_OTHER_DOCUMENTS)
def test_other_document_types_rejected(id_type: IdType, raw: str, code: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_document_number(id_type, raw, today=TODAY)
    assert caught.value.code == code


def test_resident_id_through_dispatcher_uses_policy() -> None:
    assert (
        validate_document_number(IdType.RESIDENT_ID, "513101820113001", today=TODAY) == "513101198201130014"
    )
    with pytest.raises(DomainError) as caught:
        validate_document_number(
            IdType.RESIDENT_ID, "513101820113001", legacy_policy=LegacyPolicy.REJECT, today=TODAY
        )
    assert caught.value.code == "id_number.legacy_rejected"


# --- error hygiene ---------------------------------------------------------------------------------------

ALL_INVALID = [
    *((IdType.RESIDENT_ID, number) for number in RIC_INVALID_CODES),
    (IdType.RESIDENT_ID, "51010419900101123X"),
    (IdType.RESIDENT_ID, with_check("99010119900101001")),
    (IdType.RESIDENT_ID, with_check("51010419901301001")),
    (IdType.RESIDENT_ID, "5101041990010112"),
    *((id_type, raw) for id_type, raw, _ in INVALID_OTHER_DOCUMENTS),
]


@pytest.mark.parametrize(("id_type", "raw"), ALL_INVALID)
def test_errors_never_echo_the_number(id_type: IdType, raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_document_number(id_type, raw, today=TODAY)
    exc = caught.value
    normalized = normalize_document_number(raw)
    for text in (str(exc), exc.message, exc.code, repr(exc)):
        assert raw not in text
        assert normalized not in text
        # Not even a long fragment (e.g. the birth date with the address code).
        assert normalized[:8] not in text


def test_legacy_rejection_does_not_echo() -> None:
    with pytest.raises(DomainError) as caught:
        parse_resident_id("513101820113001", legacy_policy=LegacyPolicy.REJECT)
    assert "513101820113001" not in str(caught.value)


def test_domain_error_shape() -> None:
    exc = DomainError("id_number.checksum", "The check character is wrong.")
    assert isinstance(exc, ValueError)
    assert str(exc) == "The check character is wrong."
    copy = pickle.loads(pickle.dumps(exc))  # noqa: S301 - round-trips our own object
    assert (copy.code, copy.message) == (exc.code, exc.message)
