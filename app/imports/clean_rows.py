"""A row as the registry models normalise it (CleanRow): the only shape the import handles once a row is
valid."""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from app.domain.identity import IdType, parse_resident_id
from app.registry.schemas import AnyCredentialIn


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
    permit_class: str | None = None
    employer_name: str | None = None
    employer_usci: str | None = None
    # Decoded from a resident ID number (None for other documents): the holder row stores them.
    birth_date: date | None = None
    sex: str | None = None


def clean_from_model(row: int, model: AnyCredentialIn) -> CleanRow:
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
    # Lists become tuples: a clean row is hashable and compared field by field.
    columns: dict[str, Any] = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in model.kind_columns().items()
    }
    return common._replace(**columns)
