"""Lean per-column checks of an import row: the registry models' rules as plain functions over strings.

The pydantic models in app/registry/schemas.py stay the contract. This module only takes the common case
fast: `check_row_fast` returns a CleanRow when it is certain the models would accept the row with exactly
these values, and None otherwise, and then the caller runs the models, which produce the errors. So a
rejected row is always described by the models themselves, and an accepted one equals what they would have
made of it (tests/imports/test_rows.py checks that on generated rows). Length bounds and patterns are not
repeated here: they are read from the models (app.imports.model_rules).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import lru_cache
from typing import Any, Final, NamedTuple

from app.domain.codes import IssuerLevel, validate_occupation_code, validate_title_code
from app.domain.errors import DomainError
from app.domain.identity import (
    IdType,
    parse_canonical_resident_id,
    parse_resident_id,
    validate_document_number,
)
from app.domain.masking import normalize_person_name
from app.domain.permit_number import check_permit_holder, validate_permit_number
from app.domain.skill_number import validate_skill_number
from app.domain.uscc import validate_uscc
from app.imports import model_rules
from app.imports.clean_rows import CleanRow
from app.imports.code_tables import CodeTables, issuing_on
from app.reference.number_formats import SKILL_NUMBER_FORMATS
from app.registry.schemas import SkillIn, normalize_text

Values = Mapping[str, str | None]


class _Unsure(Exception):
    """The fast path cannot vouch for this row; the models decide (and describe what is wrong)."""


# What a check below raises when it cannot vouch for a value: the columnar checks
# (app.imports.column_checks) call the same checks once per distinct value and catch the same.
UNSURE: Final = (_Unsure, DomainError, ValueError)


_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Bounds and patterns as the models declare them. One constant each, not a look-up per row: a row is checked
# millions of times.
_REGION: Final = model_rules.pattern("region")
_CARD_SYSTEM: Final = model_rules.pattern("card_system")
_CARD_CLASS: Final = model_rules.pattern("card_class")
_ENTITLEMENT: Final = model_rules.item_pattern("entitlements")
_MAX_ENTITLEMENTS: Final = model_rules.max_items("entitlements")
_NUMBER_LEN: Final = model_rules.max_length("number")
_HOLDER_NAME_LEN: Final = model_rules.max_length("holder_name")
_ID_NUMBER_LEN: Final = model_rules.max_length("holder_id_number")
_ISSUER_NAME_LEN: Final = model_rules.max_length("issuer_name")
_USCI_LEN: Final = model_rules.max_length("issuer_usci")
_TITLE_CODE_LEN: Final = model_rules.max_length("title_code")
_SPECIALTY_LEN: Final = model_rules.max_length("specialty")
_APPROVAL_NO_LEN: Final = model_rules.max_length("approval_no")
_REVIEW_BODY_LEN: Final = model_rules.max_length("review_body")
_OCCUPATION_CODE_LEN: Final = model_rules.max_length("occupation_code")
_OCCUPATION_NAME_LEN: Final = model_rules.max_length("occupation_name")
_WORK_TYPE_LEN: Final = model_rules.max_length("work_type")
_PERMIT_CLASS: Final = model_rules.pattern("permit_class")
_PERMIT_NUMBER_LEN: Final = model_rules.permit_number_max_length()
_EMPLOYER_NAME_LEN: Final = model_rules.max_length("employer_name")
_EMPLOYER_USCI_LEN: Final = model_rules.max_length("employer_usci")
_REGION_AT: Final = CleanRow._fields.index("region")
_NUMBER: Final = CleanRow._fields.index("number")
_ISSUED_ON: Final = CleanRow._fields.index("issued_on")
_ID_TYPE: Final = CleanRow._fields.index("id_type")
_LEVEL_MIN, _LEVEL_MAX = model_rules.integer_bounds(SkillIn, "level")
_ID_TYPES: Final = {member.value: member for member in IdType}
_ISSUER_LEVELS: Final = frozenset(member.value for member in IssuerLevel)
# The schemas cache these pure checks for the same reason: a registry repeats a few hundred issuers and codes.
_title_code = lru_cache(maxsize=4096)(validate_title_code)
_occupation_code = lru_cache(maxsize=4096)(validate_occupation_code)
_usci = lru_cache(maxsize=4096)(validate_uscc)


def check_row_fast(kind: str, row: int, values: Values, tables: CodeTables, today: date) -> CleanRow | None:
    """The row as the models would accept it, or None when that is not certain (the models then decide).

    `today` must not be later than the days the models compare against (UTC for dates, the local day for the
    birth date in an ID number): a date after it is left to them.
    """
    try:
        return _KIND_CHECKS[kind](check_common(kind, row, values, tables, today), values, tables, today)
    except UNSURE:
        return None


class _Common(NamedTuple):
    """The fields every kind has: CleanRow's first thirteen, then what the holder's document decoded."""

    head: tuple[Any, ...]
    birth_date: date | None
    sex: str | None


_NO_TITLE: Final = (None,) * 5
_NO_SKILL: Final = (None,) * 5
_NO_CARD: Final = (None,) * 3
_NO_PERMIT: Final = (None,) * 3


def check_common(kind: str, row: int, values: Values, tables: CodeTables, today: date) -> _Common:
    """The fields every kind has, with the window check of CredentialIn."""
    region = region_code(values["region"], tables)
    issued_on = past_date(values["issued_on"], today)
    valid_from = optional_date(values["valid_from"])
    valid_until = optional_date(values["valid_until"])
    if valid_until is not None and valid_until < (valid_from or issued_on):
        raise _Unsure
    id_type, id_number, birth_date, sex = holder_document(
        values["holder_id_type"], values["holder_id_number"], today
    )
    head = (
        row,
        kind,
        region,
        text(values["number"], _NUMBER_LEN),
        normalize_person_name(text(values["holder_name"], _HOLDER_NAME_LEN)),
        id_type,
        id_number,
        text(values["issuer_name"], _ISSUER_NAME_LEN),
        usci(values["issuer_usci"], _USCI_LEN),
        issuer_level(values["issuer_level"]),
        issued_on,
        valid_from,
        valid_until,
    )
    return _Common(head, birth_date, sex)


# Each kind builds its CleanRow in one go, positionally: a row is made millions of times.
def check_title(common: _Common, values: Values, tables: CodeTables, today: date) -> CleanRow:
    obtained_on = past_date(values["obtained_on"], today)
    if obtained_on > common.head[_ISSUED_ON]:
        raise _Unsure
    title = (
        title_code(values["title_code"], tables),
        optional_text(values["specialty"], _SPECIALTY_LEN),
        obtained_on,
        optional_text(values["approval_no"], _APPROVAL_NO_LEN),
        optional_text(values["review_body"], _REVIEW_BODY_LEN),
    )
    return CleanRow._make(
        (*common.head, *title, *_NO_SKILL, *_NO_CARD, *_NO_PERMIT, common.birth_date, common.sex)
    )


def check_skill(common: _Common, values: Values, tables: CodeTables, today: date) -> CleanRow:
    level = skill_level(values["level"], tables)
    number, format_name = skill_number(common.head[_NUMBER], level)
    head = (*common.head[:_NUMBER], number, *common.head[_NUMBER + 1 :])
    skill = (
        occupation_code(values["occupation_code"]),
        text(values["occupation_name"], _OCCUPATION_NAME_LEN),
        level,
        optional_text(values["work_type"], _WORK_TYPE_LEN),
        format_name,
    )
    return CleanRow._make((*head, *_NO_TITLE, *skill, *_NO_CARD, *_NO_PERMIT, common.birth_date, common.sex))


def check_card(common: _Common, values: Values, tables: CodeTables, today: date) -> CleanRow:
    card = card_fields(
        values["card_system"],
        values["card_class"],
        values["entitlements"],
        common.head[_REGION_AT],
        common.head[_ISSUED_ON],
        tables,
    )
    return CleanRow._make(
        (*common.head, *_NO_TITLE, *_NO_SKILL, *card, *_NO_PERMIT, common.birth_date, common.sex)
    )


def check_permit(common: _Common, values: Values, tables: CodeTables, today: date) -> CleanRow:
    # PermitIn's number is not Text64: bounded on the raw cell, then normalised as a document number (which
    # also drops what normalize_text stripped, so check_common's spelling gives the same result).
    number = permit_number(values["number"], common.head[_NUMBER])
    permit_holder(common.head[_ID_TYPE])
    head = (*common.head[:_NUMBER], number, *common.head[_NUMBER + 1 :])
    permit = (
        permit_class(values["permit_class"], tables),
        text(values["employer_name"], _EMPLOYER_NAME_LEN),
        usci(values["employer_usci"], _EMPLOYER_USCI_LEN),
    )
    return CleanRow._make((*head, *_NO_TITLE, *_NO_SKILL, *_NO_CARD, *permit, common.birth_date, common.sex))


_KIND_CHECKS: Mapping[str, Callable[[_Common, Values, CodeTables, date], CleanRow]] = {
    "title": check_title,
    "skill": check_skill,
    "card": check_card,
    "permit": check_permit,
}


def required(value: str | None) -> str:
    if value is None:
        raise _Unsure
    return value


def bounded(value: str | None, max_length: int) -> str:
    """A required string within the models' max_length, which they check on the raw input."""
    if value is None or len(value) > max_length:
        raise _Unsure
    return value


def text(value: str | None, max_length: int) -> str:
    """The Text50/Text64/… types: bounded, normalised (NFKC, printable), not empty."""
    cleaned = normalize_text(bounded(value, max_length))
    if not cleaned:
        raise _Unsure
    return cleaned


def optional_text(value: str | None, max_length: int) -> str | None:
    """The OptionalText types: absent stays None; present may normalise to "", as in the models."""
    if value is None:
        return None
    if len(value) > max_length:
        raise _Unsure
    return normalize_text(value)


def optional_date(value: str | None) -> date | None:
    """Only the plain YYYY-MM-DD spelling is taken here; the models' other spellings go to the models."""
    if value is None:
        return None
    if not _ISO_DATE.fullmatch(value):
        raise _Unsure
    return date.fromisoformat(value)


def past_date(value: str | None, today: date) -> date:
    day = optional_date(required(value))
    assert day is not None
    if day > today:
        raise _Unsure
    return day


def holder_document(
    id_type_value: str | None, raw_number: str | None, today: date
) -> tuple[str, str, date | None, str | None]:
    """(id type, normalised number, birth date, sex): HolderIn's check, decoding a resident ID only once."""
    id_type = IdType.RESIDENT_ID if id_type_value is None else _ID_TYPES.get(id_type_value)
    if id_type is None:
        raise _Unsure
    raw = bounded(raw_number, _ID_NUMBER_LEN)
    if id_type is IdType.RESIDENT_ID:
        canonical = parse_canonical_resident_id(raw, today)
        if canonical is not None:
            return id_type.value, *canonical
        resident = parse_resident_id(raw)
        return id_type.value, resident.number, resident.birth_date, resident.sex
    return id_type.value, validate_document_number(id_type, raw), None, None


def skill_level(value: str | None, tables: CodeTables) -> int:
    """A level code of the table in its plain spelling ("7"); another ("07", "+7", "٧") goes to the models."""
    cell = required(value)
    if not (cell.isascii() and cell.isdigit()) or cell[0] == "0" or len(cell) > 9:
        raise _Unsure
    level = int(cell)
    if not _LEVEL_MIN <= level <= _LEVEL_MAX or level not in tables.skill_levels:
        raise _Unsure
    return level


def issuer_level(value: str | None) -> str | None:
    if value is not None and value not in _ISSUER_LEVELS:
        raise _Unsure
    return value


def split_list(value: str | None) -> tuple[str, ...]:
    """A list cell as build_payload turns it into a request field: split on ';', trimmed, empties dropped."""
    if value is None:
        return ()
    return tuple(item for part in value.split(";") if (item := part.strip()))


# The checks of single cells (and of the card columns, which go together), shared with the columnar checks
# (app.imports.column_checks), which call them once per distinct value.
def region_code(value: str | None, tables: CodeTables) -> str:
    region = required(value)
    if not _REGION.fullmatch(region) or region not in tables.regions:
        raise _Unsure
    if tables.held is not None and region not in tables.held:
        raise _Unsure  # refused by check_codes, with the reason
    return region


def usci(value: str | None, max_length: int) -> str:
    return _usci(bounded(value, max_length))


def title_code(value: str | None, tables: CodeTables) -> str:
    code = _title_code(bounded(value, _TITLE_CODE_LEN))
    if code not in tables.title_codes:
        raise _Unsure
    return code


def occupation_code(value: str | None) -> str:
    return _occupation_code(bounded(value, _OCCUPATION_CODE_LEN))


def skill_number(number: str, level: int) -> tuple[str, str]:
    """(number, format name) of a number already normalised as Text64, for a level of the table."""
    parsed = validate_skill_number(number, level, SKILL_NUMBER_FORMATS)
    return parsed.number, parsed.format_name


def permit_number(raw: str | None, number: str) -> str:
    """PermitIn's number is not Text64: bounded on the raw cell, then normalised as a document number (which
    also drops what normalize_text stripped, so the Text64 spelling `number` gives the same result)."""
    if len(required(raw)) > _PERMIT_NUMBER_LEN:
        raise _Unsure
    return validate_permit_number(number)


def permit_holder(id_type: str) -> None:
    check_permit_holder(IdType(id_type))


def permit_class(value: str | None, tables: CodeTables) -> str:
    code = required(value)
    if not _PERMIT_CLASS.fullmatch(code) or code not in tables.permit_classes:
        raise _Unsure
    return code


def card_fields(
    system_value: str | None,
    class_value: str | None,
    entitlements_value: str | None,
    region: str,
    issued_on: date,
    tables: CodeTables,
) -> tuple[str, str, tuple[str, ...]]:
    """(card system, card class, entitlements) of a card row of that region issued on that day."""
    system, card_class = required(system_value), required(class_value)
    if not _CARD_SYSTEM.fullmatch(system) or not _CARD_CLASS.fullmatch(card_class):
        raise _Unsure
    if (
        tables.card_system_regions.get(system) != region
        or (system, card_class) not in tables.card_classes
        or not issuing_on(tables, system, issued_on)
    ):
        raise _Unsure
    entitlements = split_list(entitlements_value)
    known = tables.card_services.get(system, frozenset())
    if len(entitlements) > _MAX_ENTITLEMENTS or not all(
        _ENTITLEMENT.fullmatch(e) and e in known for e in entitlements
    ):
        raise _Unsure
    return system, card_class, entitlements
