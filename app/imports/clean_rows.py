"""A row as the registry models normalise it (CleanRow): the only shape the import handles once a row is
valid."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from app.domain.identity import IdType, parse_resident_id
from app.registry.schemas import AnyCredentialIn, CardIn, SkillIn, TitleIn


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
    if isinstance(model, CardIn):
        return common._replace(
            card_system=model.card_system, card_class=model.card_class, entitlements=tuple(model.entitlements)
        )
    return common._replace(
        permit_class=model.permit_class, employer_name=model.employer_name, employer_usci=model.employer_usci
    )
