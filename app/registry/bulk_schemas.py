"""What a bulk status change is asked with (a filter or a selection, the target) and what it answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from app.domain.errors import DomainError
from app.registry.schemas import Input, Kind, RegionCode, Text500, Usci

KindName = Kind
# What a person may ask for: expiry and supersession are set by the system (as for a single change).
TargetStatus = Literal["active", "suspended", "revoked", "cancelled", "transferred"]
StatusName = Literal["active", "suspended", "revoked", "cancelled", "expired", "transferred", "superseded"]
MAX_SELECTION = 10_000
SAMPLE_SIZE = 20


class CredentialFilter(Input):
    """Credentials matching every criterion given. At least one is needed: an empty filter is the whole
    registry, never what a person meant."""

    kind: KindName | None = None
    region: RegionCode | None = None
    issuer_usci: Usci | None = None
    import_job: Annotated[str | None, Field(pattern=r"^[0-9a-f]{32}$")] = None
    issued_from: date | None = None
    issued_to: date | None = None
    status: StatusName | None = Field(default=None, description="the status shown today (effective)")

    @model_validator(mode="after")
    def check_filter(self) -> CredentialFilter:
        if not self.model_dump(exclude_none=True):
            raise DomainError("status_change.filter_empty", "give at least one criterion")
        if self.issued_from and self.issued_to and self.issued_to < self.issued_from:
            raise DomainError("status_change.dates", "issued_to is before issued_from")
        return self


class CredentialKey(Input):
    kind: KindName
    region: RegionCode
    number: str = Field(min_length=1, max_length=64)


class Selection(Input):
    """Either a filter or a selection of credentials by key."""

    filter: CredentialFilter | None = None
    selection: Annotated[list[CredentialKey] | None, Field(min_length=1, max_length=MAX_SELECTION)] = None

    @model_validator(mode="after")
    def check_one(self) -> Selection:
        if (self.filter is None) == (self.selection is None):
            raise DomainError("status_change.select_one", "give either a filter or a selection")
        return self


class PreviewIn(Selection):
    status: TargetStatus


class StatusChangeJobIn(PreviewIn):
    reason: Text500


class SampleRow(BaseModel):
    kind: str
    region: str
    number: str
    holder_name: str
    holder_id_masked: str
    issuer_name: str
    status: str
    issued_on: date
    refused_code: str | None = Field(description="the state machine's refusal for this row, if any")


class PreviewOut(BaseModel):
    count: int
    sample: list[SampleRow]
    refused_by_state_machine: int


class StatusChangeJobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    target_status: str
    reason: str
    criteria: dict[str, object]
    actor: str | None
    client_id: str
    total: int
    done: int
    changed: int
    refused: int
    refusals: dict[str, int]
    problem: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class StatusChangeJobPage(BaseModel):
    items: list[StatusChangeJobOut]
