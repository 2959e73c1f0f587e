"""Registry rules and queries: create credentials, read them, page through them, change their status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.cursors import decode_after_id, encode_cursor
from app.domain.calendar import china_today
from app.domain.date_windows import describe_window, in_window
from app.domain.identity import IdType, parse_resident_id
from app.domain.masking import mask_document_number, normalize_person_name
from app.domain.status import CredentialStatus, check_transition, effective_status
from app.errors import Conflict, InvalidInput, NotFound, invalid_field
from app.models import (
    CardClass,
    CardService,
    CardSystem,
    Credential,
    Holder,
    Organisation,
    PermitClass,
    Region,
    SkillLevel,
    StatusChange,
    TitleCode,
)
from app.privacy import PersonalDataVault
from app.registry.permits import check_one_number_per_person
from app.registry.records import CredentialRecord
from app.registry.schemas import CardIn, CredentialCreate, HolderIn, IssuerIn, PermitIn, SkillIn, TitleIn


async def check_code_tables(session: AsyncSession, payload: CredentialCreate) -> None:
    """Every code in the request must exist in the tables admins maintain."""
    if await session.get(Region, payload.region) is None:
        raise invalid_field("region", "region.unknown", "no such region")
    if isinstance(payload, TitleIn) and await session.get(TitleCode, payload.title_code) is None:
        raise invalid_field("title_code", "title_code.unknown", "not in the title code table")
    if isinstance(payload, SkillIn) and await session.get(SkillLevel, payload.level) is None:
        raise invalid_field("level", "skill_level.unknown", "not in the skill level table")
    if isinstance(payload, CardIn):
        await check_card_codes(session, payload)
    if isinstance(payload, PermitIn) and await session.get(PermitClass, payload.permit_class) is None:
        raise invalid_field("permit_class", "permit_class.unknown", "not in the permit class table")


async def check_card_codes(session: AsyncSession, payload: CardIn) -> None:
    system = await session.get(CardSystem, payload.card_system)
    if system is None:
        raise invalid_field("card_system", "card_system.unknown", "no such card system")
    if system.region_code != payload.region:
        raise invalid_field("card_system", "card_system.region", "this card system belongs to another region")
    if not in_window(payload.issued_on, system.issuing_from, system.issuing_until):
        raise not_issuing(system.issuing_from, system.issuing_until)
    if await session.get(CardClass, (payload.card_system, payload.card_class)) is None:
        raise invalid_field("card_class", "card_class.unknown", "not a class of this card system")
    known = set(
        (
            await session.scalars(
                select(CardService.code).where(CardService.system_code == payload.card_system)
            )
        ).all()
    )
    unknown = [i for i, code in enumerate(payload.entitlements) if code not in known]
    if unknown:
        raise invalid_field(
            f"entitlements.{unknown[0]}", "entitlement.unknown", "not a service of this card system"
        )
    if len(set(payload.entitlements)) != len(payload.entitlements):
        raise invalid_field("entitlements", "entitlement.duplicate", "a service is listed twice")


def not_issuing_message(start: date | None, until: date | None) -> str:
    """Why a new card dated outside its system's issuing window is refused (registry and import alike): a
    closed system issues no more cards (those it issued keep verifying until they expire), so the card
    belongs to the system issuing now."""
    return f"this card system issues new cards on {describe_window(start, until)} only, not on the issue date"


def not_issuing(start: date | None, until: date | None) -> InvalidInput:
    return invalid_field("card_system", "card_system.not_issuing", not_issuing_message(start, until))


async def find_or_register_issuer(session: AsyncSession, issuer: IssuerIn, region: str) -> Organisation:
    found = await session.scalar(select(Organisation).where(Organisation.usci == issuer.usci))
    if found is not None:
        return found
    # First sighting registers the issuer; its level defaults to city (API.md, "Names used in requests").
    org = Organisation(usci=issuer.usci, name=issuer.name, region_code=region, level=issuer.level or "city")
    session.add(org)
    await session.flush()
    return org


def new_holder_values(
    vault: PersonalDataVault, id_type: IdType, number: str, name: str, id_hash: str
) -> dict[str, Any]:
    """A new holder row: the number only as keyed hash, cipher and masked form (registry and import alike)."""
    birth_date, sex = None, None
    if id_type == IdType.RESIDENT_ID:
        resident = parse_resident_id(number)
        birth_date, sex = resident.birth_date, resident.sex
    return {
        "id_type": id_type.value,
        "id_hash": id_hash,
        "id_cipher": vault.encrypt_document(id_type.value, number),
        "id_masked": mask_document_number(id_type, number),
        "name": name,
        "birth_date": birth_date,
        "sex": sex,
        "created_at": datetime.now(UTC),
    }


async def find_or_register_holder(
    session: AsyncSession, vault: PersonalDataVault, holder: HolderIn
) -> Holder:
    id_hash = vault.hash_document(holder.id_type, holder.id_number)
    found = await session.scalar(select(Holder).where(Holder.id_hash == id_hash))
    if found is not None:
        if found.name != holder.name:
            # Same document, other name: a typo or a mix-up, never silently merged.
            raise Conflict(
                "a holder with this document number is registered under another name",
                errors=[
                    {
                        "field": "holder.name",
                        "code": "holder.name_mismatch",
                        "message": "differs from the registered name",
                    }
                ],
            )
        return found
    person = Holder(**new_holder_values(vault, holder.id_type, holder.id_number, holder.name, id_hash))
    session.add(person)
    await session.flush()
    return person


def build_credential(payload: CredentialCreate, holder: Holder, issuer: Organisation) -> Credential:
    credential = Credential(
        kind=payload.kind,
        region_code=payload.region,
        number=payload.number,
        holder_id=holder.id,
        issuer_id=issuer.id,
        status=CredentialStatus.ACTIVE.value,
        issued_on=payload.issued_on,
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
        version=1,
        **payload.kind_columns(),
    )
    return credential


async def create_credential(
    session: AsyncSession, vault: PersonalDataVault, payload: CredentialCreate
) -> CredentialRecord:
    await check_code_tables(session, payload)
    if await find_credential_id(session, payload.kind, payload.region, payload.number) is not None:
        raise credential_exists()
    issuer = await find_or_register_issuer(session, payload.issuer, payload.region)
    holder = await find_or_register_holder(session, vault, payload.holder)
    if isinstance(payload, PermitIn):
        await check_one_number_per_person(session, holder.id, payload.number)
    credential = build_credential(payload, holder, issuer)
    try:
        async with session.begin_nested():
            session.add(credential)
    except IntegrityError:
        # A concurrent request created the same (kind, region, number) between our check and our insert.
        raise credential_exists() from None
    return await get_credential(session, payload.kind, payload.region, payload.number)


def credential_exists() -> Conflict:
    return Conflict("a credential with this kind, region and number already exists", code="credential.exists")


async def find_credential_id(session: AsyncSession, kind: str, region: str, number: str) -> int | None:
    return await session.scalar(
        select(Credential.id).where(
            Credential.kind == kind, Credential.region_code == region, Credential.number == number
        )
    )


SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


def join_answer_tables(query: SelectT) -> SelectT:
    """The joins every credential answer needs: holder, issuer, and the code tables that name its title,
    skill level and card class (outer: each applies to one kind only)."""
    return (
        query.join(Holder, Holder.id == Credential.holder_id)
        .join(Organisation, Organisation.id == Credential.issuer_id)
        .outerjoin(TitleCode, TitleCode.code == Credential.title_code)
        .outerjoin(SkillLevel, SkillLevel.level == Credential.skill_level)
        .outerjoin(
            CardClass,
            (CardClass.system_code == Credential.card_system) & (CardClass.code == Credential.card_class),
        )
    )


RecordSelect = Select[Credential, Holder, Organisation, str, TitleCode, str, str, str]


@cache
def select_records() -> RecordSelect:
    """Built once: constructing this seven-way join costs milliseconds, far more than running it.

    Outer joins: the last five are None where they do not apply (typing cannot say so per column). The
    permit class's name is joined here, not in join_answer_tables: the verify look-up does not need it.
    """
    previous = aliased(Credential)
    columns = (previous.number, TitleCode, SkillLevel.name, CardClass.name, PermitClass.name)
    return (
        join_answer_tables(select(Credential, Holder, Organisation, *columns))
        .outerjoin(previous, previous.id == Credential.supersedes_id)
        .outerjoin(PermitClass, PermitClass.code == Credential.permit_class)
    )


@cache
def select_one_record() -> RecordSelect:
    """The look-up by (kind, region, number) with bound parameters: one statement object for every request,
    so SQLAlchemy computes its cache key once instead of walking the six joins per call."""
    return select_records().where(
        Credential.kind == bindparam("kind"),
        Credential.region_code == bindparam("region"),
        Credential.number == bindparam("number"),
    )


async def get_credential(session: AsyncSession, kind: str, region: str, number: str) -> CredentialRecord:
    params = {"kind": kind, "region": region, "number": number}
    row = (await session.execute(select_one_record(), params)).first()
    if row is None:
        raise NotFound("no credential with this kind, region and number")
    return CredentialRecord(*row)


def where_effective_status(status: CredentialStatus, today: date) -> ColumnElement[bool]:
    """The SQL twin of `effective_status`: the credentials that answer with `status` today.

    Filtering, counting and showing a status must agree, so a credential stored active (or suspended) past its
    last valid day is listed as expired, not active. Every branch compares plain columns (no function of a
    column), so the listing index on (kind, region_code, status, id) still narrows by status.
    """
    dated = (CredentialStatus.ACTIVE, CredentialStatus.SUSPENDED)
    still_valid = or_(Credential.valid_until.is_(None), Credential.valid_until >= today)
    if status in dated:
        return and_(Credential.status == status.value, still_valid)
    if status == CredentialStatus.EXPIRED:
        lapsed = and_(Credential.status.in_([s.value for s in dated]), Credential.valid_until < today)
        return or_(Credential.status == status.value, lapsed)
    return Credential.status == status.value


@dataclass(frozen=True)
class CredentialFilter:
    """What a listing narrows by; every field optional. Names and issuers are matched through their own
    indexed tables (holders.name, organisations) and joined by id, never by a function of a column."""

    kind: str | None = None
    region: str | None = None
    status: str | None = None
    number: str | None = None
    holder_name: str | None = None
    issuer: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None


def where_filter(query: SelectT, where: CredentialFilter) -> SelectT:
    if where.kind:
        query = query.where(Credential.kind == where.kind)
    if where.region:
        query = query.where(Credential.region_code == where.region)
    if where.status:
        query = query.where(where_effective_status(CredentialStatus(where.status), china_today()))
    if where.number:
        query = query.where(Credential.number == where.number)
    if where.holder_name:
        named = select(Holder.id).where(Holder.name == normalize_person_name(where.holder_name))
        query = query.where(Credential.holder_id.in_(named))
    if where.issuer:
        # A USCI names one issuer; anything else is part of a name (a few hundred issuers: a scan is cheap).
        pattern = "%" + where.issuer.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        issuers = select(Organisation.id).where(
            or_(Organisation.usci == where.issuer, Organisation.name.like(pattern, escape="\\"))
        )
        query = query.where(Credential.issuer_id.in_(issuers))
    if where.issued_from:
        query = query.where(Credential.issued_on >= where.issued_from)
    if where.issued_to:
        query = query.where(Credential.issued_on <= where.issued_to)
    return query


def select_page(where: CredentialFilter, *, after: int | None, limit: int) -> RecordSelect:
    query = where_filter(select_records().order_by(Credential.id).limit(limit), where)
    if after is not None:
        query = query.where(Credential.id > after)
    return query


async def list_credentials(
    session: AsyncSession, where: CredentialFilter, *, cursor: str | None, limit: int
) -> tuple[list[CredentialRecord], str | None]:
    """Keyset pagination in id order: stable under concurrent inserts, and O(limit) at any depth."""
    after = decode_after_id(cursor) if cursor else None
    query = select_page(where, after=after, limit=limit + 1)
    records = [CredentialRecord(*row) for row in (await session.execute(query)).all()]
    if len(records) > limit:
        return records[:limit], encode_cursor({"after": records[limit - 1].credential.id})
    return records, None


async def change_status(
    session: AsyncSession, *, kind: str, region: str, number: str, target: str, reason: str, actor: str
) -> CredentialRecord:
    credential = await session.scalar(
        select(Credential)
        .where(Credential.kind == kind, Credential.region_code == region, Credential.number == number)
        .with_for_update()
    )
    if credential is None:
        raise NotFound("no credential with this kind, region and number")
    now = datetime.now(UTC)
    current = effective_status(CredentialStatus(credential.status), credential.valid_until, china_today(now))
    check_transition(current, CredentialStatus(target))  # ForbiddenTransition: a 409 with the current status
    session.add(
        StatusChange(
            credential_id=credential.id,
            from_status=current.value,
            to_status=target,
            reason=reason,
            actor=actor,
            changed_at=now,
        )
    )
    credential.status, credential.status_reason, credential.status_changed_at = target, reason, now
    await session.flush()
    return await get_credential(session, kind, region, number)
