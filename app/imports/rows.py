"""Lean per-column checks of an import row: the registry models' rules as plain functions over strings.

The pydantic models in app/registry/schemas.py stay the contract. This module only takes the common case
fast: `check_row_fast` returns a CleanRow when it is certain the models would accept the row with exactly
these values, and None otherwise, and then the caller runs the models, which produce the errors. So a
rejected row is always described by the models themselves, and an accepted one equals what they would have
made of it (tests/imports/test_rows.py checks that on generated rows).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
from app.domain.skill_number import validate_skill_number
from app.domain.uscc import validate_uscc
from app.registry.schemas import CardIn, SkillIn, TitleIn, normalize_text

Values = Mapping[str, str | None]


class CleanRow(NamedTuple):
    """A row as the registry models normalise it: the only shape the rest of the import sees."""

    row: int
    kind: str
    region: str
    number: str
    holder_name: str
    id_type: str
    id_number: str
    issuer_name: str
    issuer_usci: str
    issuer_level: str | None
    issued_on: date
    valid_from: date | None
    valid_until: date | None
    title_code: str | None = None
    specialty: str | None = None
    obtained_on: date | None = None
    approval_no: str | None = None
    review_body: str | None = None
    occupation_code: str | None = None
    occupation_name: str | None = None
    skill_level: int | None = None
    work_type: str | None = None
    number_format: str | None = None
    card_system: str | None = None
    card_class: str | None = None
    entitlements: tuple[str, ...] | None = None
    # Decoded from a resident ID number (None for other documents): the holder row stores them.
    birth_date: date | None = None
    sex: str | None = None


@dataclass(frozen=True)
class CodeTables:
    """The code tables a row is checked against, loaded once per import."""

    regions: frozenset[str]
    title_codes: frozenset[str]
    skill_levels: frozenset[int]
    card_system_regions: Mapping[str, str]
    card_classes: frozenset[tuple[str, str]]
    card_services: Mapping[str, frozenset[str]]
    # The regions this node holds (None: every region in the table): another region's people belong to the
    # node of that region (federation), so its rows are refused here.
    held: frozenset[str] | None = None


class _Unsure(Exception):
    """The fast path cannot vouch for this row; the models decide (and describe what is wrong)."""


def clean_from_model(row: int, model: TitleIn | SkillIn | CardIn) -> CleanRow:
    """The CleanRow of a row the models accepted."""
    holder, issuer = model.holder, model.issuer
    birth_date, sex = None, None
    if holder.id_type is IdType.RESIDENT_ID:
        resident = parse_resident_id(holder.id_number)
        birth_date, sex = resident.birth_date, resident.sex
    common = CleanRow(
        row=row,
        kind=model.kind,
        region=model.region,
        number=model.number,
        holder_name=holder.name,
        id_type=holder.id_type.value,
        id_number=holder.id_number,
        issuer_name=issuer.name,
        issuer_usci=issuer.usci,
        issuer_level=issuer.level.value if issuer.level is not None else None,
        issued_on=model.issued_on,
        valid_from=model.valid_from,
        valid_until=model.valid_until,
        birth_date=birth_date,
        sex=sex,
    )
    if isinstance(model, TitleIn):
        return common._replace(
            title_code=model.title_code,
            specialty=model.specialty,
            obtained_on=model.obtained_on,
            approval_no=model.approval_no,
            review_body=model.review_body,
        )
    if isinstance(model, SkillIn):
        return common._replace(
            occupation_code=model.occupation_code,
            occupation_name=model.occupation_name,
            skill_level=model.level,
            work_type=model.work_type,
            number_format=model.number_format,
        )
    return common._replace(
        card_system=model.card_system, card_class=model.card_class, entitlements=tuple(model.entitlements)
    )


def check_codes(row: CleanRow, tables: CodeTables) -> list[tuple[str, str, str]]:
    """(column, code, message) for each value of a model-valid row that is missing from the code tables."""
    found = []
    if row.region not in tables.regions:
        found.append(("region", "region.unknown", "no such region"))
    elif tables.held is not None and row.region not in tables.held:
        found.append(("region", "region.not_held", "this node does not hold that region's registry"))
    if row.kind == "title" and row.title_code not in tables.title_codes:
        found.append(("title_code", "title_code.unknown", "not in the title code table"))
    if row.kind == "skill" and row.skill_level not in tables.skill_levels:
        found.append(("level", "skill_level.unknown", "not in the skill level table"))
    if row.kind == "card":
        assert row.card_system is not None
        assert row.entitlements is not None
        system_region = tables.card_system_regions.get(row.card_system)
        if system_region is None:
            found.append(("card_system", "card_system.unknown", "no such card system"))
        elif system_region != row.region:
            found.append(("card_system", "card_system.region", "this card system belongs to another region"))
        elif (row.card_system, row.card_class) not in tables.card_classes:
            found.append(("card_class", "card_class.unknown", "not a class of this card system"))
        known = tables.card_services.get(row.card_system, frozenset())
        if any(code not in known for code in row.entitlements):
            found.append(("entitlements", "entitlement.unknown", "not a service of this card system"))
    return found


# --- the fast path ---

_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_REGION: Final = re.compile(r"[A-Z]{2}")
_CARD_SYSTEM: Final = re.compile(r"[a-z][a-z0-9-]{1,31}")
_CARD_CLASS: Final = re.compile(r"[A-Za-z0-9-]{1,16}")
_ENTITLEMENT: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_REGION_AT: Final = CleanRow._fields.index("region")
_NUMBER: Final = CleanRow._fields.index("number")
_ISSUED_ON: Final = CleanRow._fields.index("issued_on")
_SKILL_LEVELS: Final = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5}
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
    except (_Unsure, DomainError, ValueError):
        return None


class _Common(NamedTuple):
    """The fields every kind has: CleanRow's first thirteen, then what the holder's document decoded."""

    head: tuple[Any, ...]
    birth_date: date | None
    sex: str | None


_NO_TITLE: Final = (None,) * 5
_NO_SKILL: Final = (None,) * 5
_NO_CARD: Final = (None,) * 3


def check_common(kind: str, row: int, values: Values, tables: CodeTables, today: date) -> _Common:
    """The fields every kind has, with the window check of CredentialIn."""
    region = required(values["region"])
    if not _REGION.fullmatch(region) or region not in tables.regions:
        raise _Unsure
    if tables.held is not None and region not in tables.held:
        raise _Unsure  # refused by check_codes, with the reason
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
        text(values["number"], 64),
        normalize_person_name(text(values["holder_name"], 50)),
        id_type,
        id_number,
        text(values["issuer_name"], 200),
        _usci(bounded(values["issuer_usci"], 40)),
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
    title_code = _title_code(bounded(values["title_code"], 10))
    if title_code not in tables.title_codes:
        raise _Unsure
    title = (
        title_code,
        optional_text(values["specialty"], 100),
        obtained_on,
        optional_text(values["approval_no"], 100),
        optional_text(values["review_body"], 200),
    )
    return CleanRow._make((*common.head, *title, *_NO_SKILL, *_NO_CARD, common.birth_date, common.sex))


def check_skill(common: _Common, values: Values, tables: CodeTables, today: date) -> CleanRow:
    level = _SKILL_LEVELS.get(required(values["level"]))
    if level is None or level not in tables.skill_levels:
        raise _Unsure
    parsed = validate_skill_number(common.head[_NUMBER], level)
    head = (*common.head[:_NUMBER], parsed.number, *common.head[_NUMBER + 1 :])
    skill = (
        _occupation_code(bounded(values["occupation_code"], 20)),
        text(values["occupation_name"], 100),
        level,
        optional_text(values["work_type"], 100),
        parsed.format_name,
    )
    return CleanRow._make((*head, *_NO_TITLE, *skill, *_NO_CARD, common.birth_date, common.sex))


def check_card(common: _Common, values: Values, tables: CodeTables, today: date) -> CleanRow:
    system, card_class = required(values["card_system"]), required(values["card_class"])
    if not _CARD_SYSTEM.fullmatch(system) or not _CARD_CLASS.fullmatch(card_class):
        raise _Unsure
    if (
        tables.card_system_regions.get(system) != common.head[_REGION_AT]
        or (system, card_class) not in tables.card_classes
    ):
        raise _Unsure
    entitlements = split_list(values["entitlements"])
    known = tables.card_services.get(system, frozenset())
    if len(entitlements) > 100 or not all(_ENTITLEMENT.fullmatch(e) and e in known for e in entitlements):
        raise _Unsure
    card = (system, card_class, entitlements)
    return CleanRow._make((*common.head, *_NO_TITLE, *_NO_SKILL, *card, common.birth_date, common.sex))


_KIND_CHECKS: Mapping[str, Callable[[_Common, Values, CodeTables, date], CleanRow]] = {
    "title": check_title,
    "skill": check_skill,
    "card": check_card,
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
    raw = bounded(raw_number, 40)
    if id_type is IdType.RESIDENT_ID:
        canonical = parse_canonical_resident_id(raw, today)
        if canonical is not None:
            return id_type.value, *canonical
        resident = parse_resident_id(raw)
        return id_type.value, resident.number, resident.birth_date, resident.sex
    return id_type.value, validate_document_number(id_type, raw), None, None


def issuer_level(value: str | None) -> str | None:
    if value is not None and value not in _ISSUER_LEVELS:
        raise _Unsure
    return value


def split_list(value: str | None) -> tuple[str, ...]:
    """A list cell as build_payload turns it into a request field: split on ';', trimmed, empties dropped."""
    if value is None:
        return ()
    return tuple(item for part in value.split(";") if (item := part.strip()))
