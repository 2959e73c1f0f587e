"""Request and response contracts of the registry routes."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from app.domain.calendar import china_today
from app.domain.codes import IssuerLevel, validate_occupation_code, validate_title_code
from app.domain.errors import DomainError
from app.domain.identity import IdType, validate_document_number
from app.domain.kinds import Kind as Kind
from app.domain.masking import normalize_person_name
from app.domain.permit_number import check_permit_holder, validate_permit_number
from app.domain.skill_number import MAX_SKILL_LEVEL_CODE, validate_skill_number
from app.domain.status import CredentialStatus, effective_status
from app.domain.uscc import validate_uscc
from app.reference.number_formats import SKILL_NUMBER_FORMATS
from app.registry.records import CredentialRecord

RegionCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["SC"])]


def normalize_text(value: str) -> str:
    cleaned = unicodedata.normalize("NFKC", value).strip()
    # isprintable() is False for every "Other" (C*) character and for separators other than the space:
    # control, format (zero-width, bidi overrides), surrogates, private use and unassigned code points.
    if not cleaned.isprintable():
        raise DomainError("text.control_characters", "control or invisible characters are not allowed")
    return cleaned


def require_text(value: str) -> str:
    if not value:
        raise DomainError("text.empty", "the value is empty after removing spaces")
    return value


def not_in_future(value: date) -> date:
    if value > china_today():
        raise DomainError("date.future", "the date lies in the future")
    return value


# Lengths are checked on the raw input (string_too_long), then the text is normalised and must stay non-empty.
Normalized = AfterValidator(normalize_text)
NonEmpty = AfterValidator(require_text)
Text50 = Annotated[str, Field(min_length=1, max_length=50), Normalized, NonEmpty]
Text64 = Annotated[str, Field(min_length=1, max_length=64), Normalized, NonEmpty]
Text100 = Annotated[str, Field(min_length=1, max_length=100), Normalized, NonEmpty]
Text200 = Annotated[str, Field(min_length=1, max_length=200), Normalized, NonEmpty]
Text500 = Annotated[str, Field(min_length=1, max_length=500), Normalized, NonEmpty]
OptionalText100 = Annotated[str, Field(max_length=100), Normalized]
OptionalText200 = Annotated[str, Field(max_length=200), Normalized]
PastDate = Annotated[date, AfterValidator(not_in_future)]
PersonName = Annotated[Text50, AfterValidator(normalize_person_name)]
# Shapes a JSON schema can state; the server also checks checksums and code tables, which it cannot. The
# server normalises document numbers and codes first (NFKC, spaces removed, upper case: clerks paste them from
# word processors), so the document gives the canonical shape as `pattern` and the server checks it after
# normalising: a client that sends the canonical form is never refused for its shape.
USCI_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{9}[0-9A-Z]$"
# The union of the shapes of every id_type (app/domain/identity.py); which one applies depends on id_type.
ID_NUMBER_PATTERN = r"^[0-9A-Z]{5,18}$"


def canonical_shape(pattern: str, **field: Any) -> Any:
    """A Field documenting `pattern` as the canonical form, without enforcing it on the raw input."""
    return Field(json_schema_extra={"pattern": pattern}, **field)


IdNumber = Annotated[str, canonical_shape(ID_NUMBER_PATTERN, min_length=1, max_length=40)]
# Pure checks of values that repeat across a registry (a few hundred issuers and codes): cached, which matters
# when an import validates millions of rows.
TitleCodeStr = Annotated[
    str,
    canonical_shape(r"^[0-9]{4}$", max_length=10, examples=["0102"]),
    AfterValidator(lru_cache(maxsize=4096)(validate_title_code)),
]
OccupationCode = Annotated[
    str,
    canonical_shape(
        r"^[1-8]-[0-9]{2}-[0-9]{2}-[0-9]{2}(-[0-9]{2})?$", max_length=20, examples=["4-04-05-01"]
    ),
    AfterValidator(lru_cache(maxsize=4096)(validate_occupation_code)),
]
Usci = Annotated[
    str,
    canonical_shape(USCI_PATTERN, max_length=40, examples=["91500000MA5U1234X5"]),
    AfterValidator(lru_cache(maxsize=4096)(validate_uscc)),
]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=500)


class HolderIn(Input):
    name: PersonName
    id_type: IdType = IdType.RESIDENT_ID
    id_number: IdNumber

    @model_validator(mode="after")
    def check_id_number(self) -> HolderIn:
        self.id_number = validate_document_number(self.id_type, self.id_number)
        return self


class IssuerIn(Input):
    name: Text200
    usci: Usci
    level: IssuerLevel | None = None


class CredentialIn(Input):
    region: RegionCode
    number: Text64
    holder: HolderIn
    issuer: IssuerIn
    issued_on: PastDate
    valid_from: date | None = None
    valid_until: date | None = None

    @model_validator(mode="after")
    def check_window(self) -> CredentialIn:
        # Without valid_from the window opens on the issue date.
        if self.valid_until and self.valid_until < (self.valid_from or self.issued_on):
            raise DomainError("validity.window", "valid_until is before the start of validity")
        return self

    def kind_columns(self) -> dict[str, Any]:
        """The columns of the credential row (app.models.Credential) this kind fills, by column name: the
        registry builds its row and the import its clean row from them, with no branch per kind."""
        raise NotImplementedError


class TitleIn(CredentialIn):
    kind: Literal["title"]
    title_code: TitleCodeStr
    specialty: OptionalText100 | None = None
    obtained_on: PastDate
    approval_no: OptionalText100 | None = None
    review_body: OptionalText200 | None = None

    @model_validator(mode="after")
    def check_obtained(self) -> TitleIn:
        if self.obtained_on > self.issued_on:
            raise DomainError("date.order", "obtained_on (review passed) is after issued_on")
        return self

    def kind_columns(self) -> dict[str, Any]:
        return {
            "title_code": self.title_code,
            "specialty": self.specialty,
            "obtained_on": self.obtained_on,
            "approval_no": self.approval_no,
            "review_body": self.review_body,
        }


class SkillIn(CredentialIn):
    kind: Literal["skill"]
    occupation_code: OccupationCode
    occupation_name: Text100
    # A level code; which codes exist (and their names and order) is the skill_levels table, checked by the
    # registry and the import against the database, so an admin's new level needs no change here.
    level: int = Field(ge=1, le=MAX_SKILL_LEVEL_CODE)
    work_type: OptionalText100 | None = None
    _number_format: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def check_number(self) -> SkillIn:
        # A number that carries the level (national-2020: position 16) must agree with it; formats are data.
        parsed = validate_skill_number(self.number, self.level, SKILL_NUMBER_FORMATS)
        self.number, self._number_format = parsed.number, parsed.format_name
        return self

    @property
    def number_format(self) -> str:
        return self._number_format

    def kind_columns(self) -> dict[str, Any]:
        return {
            "occupation_code": self.occupation_code,
            "occupation_name": self.occupation_name,
            "skill_level": self.level,
            "work_type": self.work_type,
            "number_format": self.number_format,
        }


class CardIn(CredentialIn):
    kind: Literal["card"]
    card_system: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")]
    card_class: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,16}$")]
    entitlements: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]] = Field(
        default_factory=list, max_length=100
    )

    def kind_columns(self) -> dict[str, Any]:
        return {
            "card_system": self.card_system,
            "card_class": self.card_class,
            "entitlements": list(self.entitlements),
        }


PermitNumber = Annotated[
    str,
    canonical_shape(r"^[0-9]{18}$", min_length=1, max_length=64, examples=["123456789012345678"]),
    AfterValidator(validate_permit_number),
]


class PermitIn(CredentialIn):
    """A foreign-talent work permit (外国人来华工作许可): its class, and the employer it was granted for."""

    kind: Literal["permit"]
    number: PermitNumber
    permit_class: Annotated[str, Field(pattern=r"^[A-Z]{1,4}$", examples=["A"])]
    employer_name: Text200
    employer_usci: Usci

    @model_validator(mode="after")
    def check_holder(self) -> PermitIn:
        check_permit_holder(self.holder.id_type)
        return self

    def kind_columns(self) -> dict[str, Any]:
        return {
            "permit_class": self.permit_class,
            "employer_name": self.employer_name,
            "employer_usci": self.employer_usci,
        }


AnyCredentialIn = TitleIn | SkillIn | CardIn | PermitIn
CredentialCreate = Annotated[AnyCredentialIn, Field(discriminator="kind")]


class StatusChangeIn(Input):
    status: Literal["active", "suspended", "revoked", "cancelled", "transferred"]
    reason: Text500


class HolderOut(BaseModel):
    name: str
    id_type: str
    id_number_masked: str


class IssuerOut(BaseModel):
    name: str
    usci: str
    level: str


class CredentialOut(BaseModel):
    kind: Kind
    region: str
    number: str
    status: str
    status_reason: str | None
    status_changed_at: datetime | None
    version: int
    holder: HolderOut
    issuer: IssuerOut
    issued_on: date
    valid_from: date | None
    valid_until: date | None
    supersedes: str | None = None
    created_at: datetime
    updated_at: datetime


class TitleOut(CredentialOut):
    kind: Literal["title"]
    title_code: str
    title_name: str
    title_series: str
    title_level: str
    specialty: str | None
    obtained_on: date | None
    approval_no: str | None
    review_body: str | None


class SkillOut(CredentialOut):
    kind: Literal["skill"]
    occupation_code: str
    occupation_name: str | None
    level: int
    level_name: str
    work_type: str | None
    number_format: str | None


class CardOut(CredentialOut):
    kind: Literal["card"]
    card_system: str
    card_class: str
    card_class_name: str
    entitlements: list[str]


class PermitOut(CredentialOut):
    kind: Literal["permit"]
    permit_class: str
    permit_class_name: str
    employer_name: str
    employer_usci: str


AnyCredentialOut = TitleOut | SkillOut | CardOut | PermitOut
CredentialView = Annotated[AnyCredentialOut, Field(discriminator="kind")]


class CredentialPage(BaseModel):
    items: list[CredentialView]
    next_cursor: str | None


def present_credential(record: CredentialRecord) -> AnyCredentialOut:
    """The answer for a credential: the holder's document number only ever leaves in masked form."""
    c, holder, issuer = record.credential, record.holder, record.issuer
    # A validity window that has ended shows as expired without anyone having to write it.
    shown = effective_status(CredentialStatus(c.status), c.valid_until, china_today())
    common: dict[str, Any] = {
        "region": c.region_code,
        "number": c.number,
        "status": shown.value,
        "status_reason": c.status_reason,
        "status_changed_at": c.status_changed_at,
        "version": c.version,
        "holder": HolderOut(name=holder.name, id_type=holder.id_type, id_number_masked=holder.id_masked),
        "issuer": IssuerOut(name=issuer.name, usci=issuer.usci, level=issuer.level),
        "issued_on": c.issued_on,
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
        "supersedes": record.supersedes,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }
    return PRESENTERS[c.kind](record, common)


def present_title(record: CredentialRecord, common: dict[str, Any]) -> TitleOut:
    c = record.credential
    assert record.title is not None
    return TitleOut(
        kind="title",
        title_code=record.title.code,
        title_name=record.title.name,
        title_series=record.title.series_code,
        title_level=record.title.level,
        specialty=c.specialty,
        obtained_on=c.obtained_on,
        approval_no=c.approval_no,
        review_body=c.review_body,
        **common,
    )


def present_skill(record: CredentialRecord, common: dict[str, Any]) -> SkillOut:
    c = record.credential
    assert c.skill_level is not None
    return SkillOut(
        kind="skill",
        occupation_code=c.occupation_code or "",
        occupation_name=c.occupation_name,
        level=c.skill_level,
        level_name=record.skill_level_name or "",
        work_type=c.work_type,
        number_format=c.number_format,
        **common,
    )


def present_card(record: CredentialRecord, common: dict[str, Any]) -> CardOut:
    c = record.credential
    assert c.card_system is not None
    return CardOut(
        kind="card",
        card_system=c.card_system,
        card_class=c.card_class or "",
        card_class_name=record.card_class_name or "",
        entitlements=list(c.entitlements or []),
        **common,
    )


def present_permit(record: CredentialRecord, common: dict[str, Any]) -> PermitOut:
    c = record.credential
    return PermitOut(
        kind="permit",
        permit_class=c.permit_class or "",
        permit_class_name=record.permit_class_name or "",
        employer_name=c.employer_name or "",
        employer_usci=c.employer_usci or "",
        **common,
    )


# Each kind's answer: the one place a new kind's presenter is registered (its request model goes in the
# `AnyCredentialIn` union, which pydantic discriminates by `kind`).
PRESENTERS: Mapping[str, Callable[[CredentialRecord, dict[str, Any]], AnyCredentialOut]] = MappingProxyType(
    {"title": present_title, "skill": present_skill, "card": present_card, "permit": present_permit}
)
