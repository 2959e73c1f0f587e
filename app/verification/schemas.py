"""Verification requests and answers (API.md "Verification")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from app.catalogue.schemas import Shortage as Shortage
from app.domain.codes import series_of_title_code
from app.domain.identity import IdType, validate_document_number
from app.domain.recognition import CredentialFacts
from app.registry.schemas import IdNumber, Input, Kind, PersonName, RegionCode, Text64

Outcome = Literal[
    "valid", "suspended", "revoked", "cancelled", "expired", "transferred", "superseded", "no_match"
]
MAX_BATCH_ITEMS = 1000
# An area code (the areas table): where the employer the holder moves to is, for rules scoped to an area.
AreaCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$", examples=["gaozhu"])]


class VerifyIn(Input):
    kind: Kind
    region: RegionCode
    number: Text64
    name: PersonName
    # The document type of `id_number`; resident ID unless given.
    id_type: IdType = IdType.RESIDENT_ID
    id_number: IdNumber | None = None
    # Where the holder's new employer is, for recognition rules scoped to an area (the 川渝高竹新区 pilot).
    target_area: AreaCode | None = None

    @model_validator(mode="after")
    def check_id_number(self) -> VerifyIn:
        # A malformed number is the caller's error (422), not an answer about the registry: checksums are
        # public.
        if self.id_number is not None:
            self.id_number = validate_document_number(self.id_type, self.id_number)
        return self


class BatchIn(Input):
    items: list[VerifyIn] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class Check(BaseModel):
    id: str
    passed: bool
    code: str


class RecognitionOut(BaseModel):
    target_region: str
    mode: Literal["direct", "delegated", "mapped", "reciprocal"]
    equivalent: dict[str, Any]
    basis: str
    rule: str


class VerifiedHolder(BaseModel):
    name_masked: str
    id_type: str
    id_number_masked: str


class VerifiedIssuer(BaseModel):
    name: str
    usci: str
    level: str


class VerifiedCredential(BaseModel):
    kind: Kind
    region: str
    number: str
    version: int
    status: str
    holder: VerifiedHolder
    issuer: VerifiedIssuer
    issued_on: date
    valid_from: date | None
    valid_until: date | None

    def facts(self) -> CredentialFacts:
        """What a recognition rule reads of this answer (a node recognises a peer's answer by its rules)."""
        return CredentialFacts(self.kind, self.region, self.issuer.level, **self.kind_facts())

    def kind_facts(self) -> dict[str, Any]:
        raise NotImplementedError


class VerifiedTitle(VerifiedCredential):
    kind: Literal["title"]
    title_code: str
    title_name: str
    title_level: str
    specialty: str | None

    def kind_facts(self) -> dict[str, Any]:
        return {
            "title_code": self.title_code,
            "title_series": series_of_title_code(self.title_code),
            "title_level": self.title_level,
        }


class VerifiedSkill(VerifiedCredential):
    kind: Literal["skill"]
    occupation_code: str
    occupation_name: str | None
    level: int
    level_name: str
    work_type: str | None
    # Which numbering format the number matched when it was registered (skill_number_formats.json); None when
    # the record has none, and in answers forwarded from nodes that do not report it yet.
    number_format: str | None = None

    def kind_facts(self) -> dict[str, Any]:
        return {"skill_level": self.level}


class VerifiedCard(VerifiedCredential):
    kind: Literal["card"]
    card_system: str
    card_class: str
    card_class_name: str
    entitlements: list[str]

    def kind_facts(self) -> dict[str, Any]:
        return {"card_system": self.card_system, "card_class": self.card_class}


class VerifiedPermit(VerifiedCredential):
    kind: Literal["permit"]
    permit_class: str
    employer_name: str
    employer_usci: str

    def kind_facts(self) -> dict[str, Any]:
        return {"permit_class": self.permit_class}


AnyVerifiedCredential = VerifiedTitle | VerifiedSkill | VerifiedCard | VerifiedPermit
AnyVerified = Annotated[AnyVerifiedCredential, Field(discriminator="kind")]


class CredentialRef(BaseModel):
    """Where a transferred or superseded credential lives on."""

    kind: Kind
    region: str
    number: str
    version: int
    status: str


class VerifyAnswer(BaseModel):
    outcome: Outcome
    checked_at: datetime
    credential: AnyVerified | None
    recognition: RecognitionOut | None
    successor: CredentialRef | None
    checks: list[Check]
    receipt: str
    # The node that looked the credential up and signed the receipt: this one, or the peer holding the region.
    answered_by: str | None = None
    # The shortage-catalogue posts a valid credential fills in the caller's region (README, "Shortage
    # catalogue"); empty for any other outcome. Defaults to empty for a peer that does not send it.
    shortage: list[Shortage] = Field(default_factory=list)


class ItemProblem(BaseModel):
    """A batch item that got no answer (its region's peer was unavailable): never a guess in its place."""

    type: str
    title: str
    status: int
    detail: str


class BatchAnswer(BaseModel):
    results: list[VerifyAnswer | ItemProblem]


class CardTokenIn(Input):
    token: str = Field(min_length=1, max_length=4096)


class TokenHolder(BaseModel):
    name_masked: str


class TokenCard(BaseModel):
    """A card as its token states it: what a counter may see, checked against the issuer's signature."""

    kind: Literal["card"] = "card"
    region: str
    number: str
    status: str
    card_system: str
    card_class: str
    card_class_name: str | None
    holder: TokenHolder
    valid_from: date | None
    valid_until: date | None
    issuer: str


class CardTokenAnswer(BaseModel):
    outcome: Outcome
    checked_at: datetime
    credential: TokenCard | None
    recognition: RecognitionOut | None
    successor: CredentialRef | None = None
    checks: list[Check]
    receipt: str
    # How old the status list behind the answer is (W3C caching: a copy is used within its ttl).
    status_list_age_seconds: float | None
    # As in VerifyAnswer; the catalogue lists titles and skills, never cards: always empty here.
    shortage: list[Shortage] = Field(default_factory=list)
