"""Personal document numbers: normalisation, GB 11643 resident IDs and the other accepted document types."""

from __future__ import annotations

import operator
import re
import string
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from app.domain.calendar import china_today
from app.domain.errors import DomainError


class IdType(StrEnum):
    """Kinds of personal identity document a holder may present."""

    RESIDENT_ID = "resident_id"  # 居民身份证 (公民身份号码, GB 11643-1999)
    PASSPORT = "passport"  # 护照, Chinese or foreign
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"  # 外国人永久居留身份证
    HMT_PERMIT = "hmt_permit"  # 港澳台居民居住证 / 来往内地(大陆)通行证


class LegacyPolicy(StrEnum):
    """What to do with a 15-digit GB 11643-1989 number found on an old record."""

    UPGRADE = "upgrade"  # insert the century "19", append the computed check character
    REJECT = "reject"


# GB/T 2260 province-level codes. Data, not logic: the table is only read, never derived.
PROVINCE_CODES: Mapping[str, str] = MappingProxyType(
    {
        "11": "北京市",
        "12": "天津市",
        "13": "河北省",
        "14": "山西省",
        "15": "内蒙古自治区",
        "21": "辽宁省",
        "22": "吉林省",
        "23": "黑龙江省",
        "31": "上海市",
        "32": "江苏省",
        "33": "浙江省",
        "34": "安徽省",
        "35": "福建省",
        "36": "江西省",
        "37": "山东省",
        "41": "河南省",
        "42": "湖北省",
        "43": "湖南省",
        "44": "广东省",
        "45": "广西壮族自治区",
        "46": "海南省",
        "50": "重庆市",
        "51": "四川省",
        "52": "贵州省",
        "53": "云南省",
        "54": "西藏自治区",
        "61": "陕西省",
        "62": "甘肃省",
        "63": "青海省",
        "64": "宁夏回族自治区",
        "65": "新疆维吾尔自治区",
        "71": "台湾省",
        "81": "香港特别行政区",
        "82": "澳门特别行政区",
    }
)

# Resident identity cards are issued by mainland public security bureaus only. Hong Kong, Macao and Taiwan
# residents get 公民身份号码 with the fixed address codes 810000 / 820000 / 830000 on their residence permits,
# which are a different document type (IdType.HMT_PERMIT); 71 never appears on a resident ID.
MAINLAND_PROVINCE_CODES: frozenset[str] = frozenset(PROVINCE_CODES) - {"71", "81", "82"}

# ISO 7064 MOD 11-2 as used by GB 11643-1999: weight of position i (1-based) is 2^(18-i) mod 11,
# and the weighted sum mod 11 indexes the check-character table.
RESIDENT_ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK_MAP = "10X98765432"

# Nobody alive was born earlier; the bound only catches typos in the century digits.
EARLIEST_BIRTH_DATE = date(1880, 1, 1)

# Copy-pasted numbers carry these invisible characters more often than any other junk; they are never part of
# a number, so they are removed together with whitespace.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff")
# Upper-case ASCII only: str.upper() would turn e.g. "ß" into "SS" or dotless "ı" into "I", silently inventing
# valid-looking characters; other non-ASCII characters are left alone so the format checks reject them.
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)

# Explicit [0-9] everywhere: in Python's str regexes \d also matches Arabic-Indic and other Unicode digits.
_RESIDENT_18 = re.compile(r"[0-9]{17}[0-9X]")
_RESIDENT_15 = re.compile(r"[0-9]{15}")
_PASSPORT = re.compile(r"[A-Z0-9]{5,17}")
_FPR_2017 = re.compile(r"[A-Z]{3}[0-9]{12}")
_FPR_2023 = re.compile(r"9[0-9]{16}[0-9X]")
_HMT_RESIDENCE = re.compile(r"8[123]0000[0-9]{11}[0-9X]")
_HMT_HK_MO_TRAVEL = re.compile(r"[HM][0-9]{8}(?:[0-9]{2})?")
_HMT_TW_TRAVEL = re.compile(r"[0-9]{8}")


@dataclass(frozen=True)
class ResidentId:
    """A checked 18-character resident ID number and what it encodes."""

    number: str
    address_code: str
    province_code: str
    birth_date: date
    sex: Literal["male", "female"]
    upgraded_from_legacy: bool


def normalize_document_number(raw: str) -> str:
    """Return the canonical spelling of a document number: NFKC, no whitespace, ASCII upper case.

    NFKC turns full-width digits and letters (e.g. "５１０" or "ｘ") into ASCII. Only whitespace (including
    the ideographic space U+3000) and zero-width characters are removed. Hyphens and other punctuation are
    kept on purpose: no accepted document number contains them, so they must fail the format check rather
    than be silently dropped, which would make garbled input look valid.
    """
    if raw.isascii() and raw.isalnum():
        # The common case, and a hot one in bulk imports: nothing to normalise but the case of an x.
        return raw.translate(_ASCII_UPPER)
    text = unicodedata.normalize("NFKC", raw)
    compact = "".join(ch for ch in text if not ch.isspace() and ch not in _INVISIBLE)
    return compact.translate(_ASCII_UPPER)


_DIGITS_17 = re.compile(r"[0-9]{17}")


def compute_resident_id_check(first17: str) -> str:
    """Return the GB 11643 (ISO 7064 MOD 11-2) check character for 17 ASCII digits."""
    if not _DIGITS_17.fullmatch(first17):
        raise DomainError("id_number.format", "The check character needs exactly 17 digits.")
    total = sum(map(operator.mul, map(int, first17), RESIDENT_ID_WEIGHTS))
    return RESIDENT_ID_CHECK_MAP[total % 11]


def parse_resident_id(
    raw: str, *, legacy_policy: LegacyPolicy = LegacyPolicy.UPGRADE, today: date | None = None
) -> ResidentId:
    """Validate a resident ID number (18 characters, or a legacy 15-digit one) and decode it.

    Checks run from the coarse to the fine: shape, province, birth date, check character, so that the error
    code names the first thing that is wrong. The county part of the address code is deliberately not checked
    against the birth year: codes are renamed and moved (Chongqing split from Sichuan in 1997) and people keep
    their numbers. `today` defaults to the local date; pass it explicitly where time zones matter.
    """
    number = normalize_document_number(raw)
    upgraded = False
    if _RESIDENT_15.fullmatch(number):
        if legacy_policy is LegacyPolicy.REJECT:
            raise DomainError(
                "id_number.legacy_rejected", "Legacy 15-digit resident ID numbers are not accepted."
            )
        # The customary upgrade: the 2-digit year becomes 19YY, then the check character is appended. The rare
        # holder born before 1900 gets a wrong century and must be corrected by hand, as on the ID card
        # itself.
        first17 = number[:6] + "19" + number[6:]
        number = first17 + compute_resident_id_check(first17)
        upgraded = True
    elif not _RESIDENT_18.fullmatch(number):
        raise DomainError("id_number.format", "A resident ID number has 17 digits followed by a digit or X.")
    province_code = number[:2]
    if province_code not in MAINLAND_PROVINCE_CODES:
        raise DomainError(
            "id_number.region", "The resident ID number does not start with a known province code."
        )
    birth_date = _parse_birth_date(number[6:14], today or china_today())
    if number[17] != compute_resident_id_check(number[:17]):
        raise DomainError("id_number.checksum", "The check character of the resident ID number is wrong.")
    return ResidentId(
        number=number,
        address_code=number[:6],
        province_code=province_code,
        birth_date=birth_date,
        # GB 11643: the last sequence digit is odd for men and even for women.
        sex="male" if int(number[16]) % 2 == 1 else "female",
        upgraded_from_legacy=upgraded,
    )


def validate_document_number(
    id_type: IdType,
    raw: str,
    *,
    legacy_policy: LegacyPolicy = LegacyPolicy.UPGRADE,
    today: date | None = None,
) -> str:
    """Validate a document number of the given type and return its normalised form."""
    if id_type is IdType.RESIDENT_ID:
        return parse_resident_id(raw, legacy_policy=legacy_policy, today=today).number
    validator = _VALIDATORS[id_type]
    return validator(normalize_document_number(raw), today or china_today())


def _parse_birth_date(yyyymmdd: str, today: date) -> date:
    """Turn the 8-digit birth-date field into a real date, neither in the future nor absurdly early."""
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise DomainError(
            "id_number.birth_date", "The birth date in the number is not a calendar date."
        ) from None
    if born > today:
        raise DomainError("id_number.birth_date", "The birth date in the number lies in the future.")
    if born < EARLIEST_BIRTH_DATE:
        raise DomainError("id_number.birth_date", "The birth date in the number is implausibly early.")
    return born


def _check_mod11_2(number: str) -> None:
    """Raise unless the 18th character is the MOD 11-2 check character of the first 17."""
    if number[17] != compute_resident_id_check(number[:17]):
        raise DomainError("id_number.checksum", "The check character of the document number is wrong.")


def _validate_passport(number: str, today: date) -> str:
    # Chinese passports are E/G (or P/S/D for official ones) plus 8 characters, but a holder may carry any
    # country's passport and ICAO 9303 only bounds the document-number field loosely, so the rule is
    # "5 to 17 letters or digits" and nothing more.
    if not _PASSPORT.fullmatch(number):
        raise DomainError("id_number.format", "A passport number has 5 to 17 letters or digits.")
    return number


def _validate_foreign_permanent_resident(number: str, today: date) -> str:
    # 2004/2017 cards: 3-letter nationality code + 12 digits (15 characters); no published check character.
    if _FPR_2017.fullmatch(number):
        return number
    # Cards issued since 2023-12-01 (National Immigration Administration,
    # "新版外国人永久居留身份证机读信息规则"): 18 characters, first digit 9 (so they never collide with a
    # citizen's number, whose first digit is 1-8), last character a GB 11643 MOD 11-2 check. The meaning of
    # the inner fields was not confirmed from a primary source, so only the shape and the check character are
    # validated.
    if _FPR_2023.fullmatch(number):
        _check_mod11_2(number)
        return number
    raise DomainError(
        "id_number.format",
        "A permanent residence ID number has 3 letters and 12 digits, or 18 characters starting with 9.",
    )


def _validate_hmt_permit(number: str, today: date) -> str:
    # Residence permits (港澳台居民居住证, since 2018-09) carry a full 公民身份号码 with the address code
    # 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan), built and checked exactly like a resident ID.
    if _HMT_RESIDENCE.fullmatch(number):
        _parse_birth_date(number[6:14], today)
        _check_mod11_2(number)
        return number
    # 港澳居民来往内地通行证: H (Hong Kong) or M (Macao), 8-digit lifelong number, then a 2-digit renewal
    # count (public notice of the MPS Exit-Entry Administration, 2010-03). The 2012 card prints only the first
    # 9 characters, so both lengths occur on records.
    if _HMT_HK_MO_TRAVEL.fullmatch(number):
        return number
    # 台湾居民来往大陆通行证: the card version (since 2015-07) has an 8-digit lifelong number. The booklet
    # numbers that preceded it have all expired and are not accepted.
    if _HMT_TW_TRAVEL.fullmatch(number):
        return number
    raise DomainError(
        "id_number.format",
        "Not a Hong Kong, Macao or Taiwan residence permit or travel permit number.",
    )


_VALIDATORS: Mapping[IdType, Callable[[str, date], str]] = MappingProxyType(
    {
        IdType.PASSPORT: _validate_passport,
        IdType.FOREIGN_PERMANENT_RESIDENT: _validate_foreign_permanent_resident,
        IdType.HMT_PERMIT: _validate_hmt_permit,
    }
)


# The weighted sum of 17 ASCII digits taken from their bytes: each byte is 48 more than its digit.
_ASCII_ZERO_WEIGHT = ord("0") * sum(RESIDENT_ID_WEIGHTS)
_CHECK_CHARACTERS = frozenset("0123456789X")


def parse_canonical_resident_id(
    number: str, today: date
) -> tuple[str, date, Literal["male", "female"]] | None:
    """What parse_resident_id decodes, for the common input only: 18 characters already in canonical form.

    Returns (number, birth date, sex), or None for anything else, including every invalid number: the caller
    then runs parse_resident_id, which says what is wrong. For bulk imports, where it is called per row and
    costs a third of parse_resident_id. `today` may be earlier than the real date, never later.
    """
    if len(number) != 18 or not number.isascii() or not number[:17].isdigit():
        return None
    if number[17] not in _CHECK_CHARACTERS or number[:2] not in MAINLAND_PROVINCE_CODES:
        return None
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
    if born > today or born < EARLIEST_BIRTH_DATE:
        return None
    total = sum(map(operator.mul, number[:17].encode(), RESIDENT_ID_WEIGHTS)) - _ASCII_ZERO_WEIGHT
    if RESIDENT_ID_CHECK_MAP[total % 11] != number[17]:
        return None
    return number, born, "male" if int(number[16]) % 2 == 1 else "female"
