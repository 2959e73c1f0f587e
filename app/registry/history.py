"""A credential's story for the console: its versions, its status changes, who verified it lately, and the
one place its holder's document number is decrypted for a person (audited by the route)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.references import reference_digest
from app.models import AuditEvent, Credential, Holder, StatusChange
from app.privacy import PersonalDataVault
from app.registry.records import CredentialRecord

RECENT_VERIFICATIONS = 20
MAX_VERSIONS = 50  # a chain of replacements longer than this is not a registry anyone keeps


class VersionOut(BaseModel):
    number: str
    version: int
    status: str
    issued_on: date
    created_at: datetime
    current: bool


class StatusChangeOut(BaseModel):
    from_status: str
    to_status: str
    reason: str | None
    actor: str
    changed_at: datetime


class VerificationOut(BaseModel):
    occurred_at: datetime
    action: str
    outcome: str
    client_id: str | None
    actor: str | None


class CredentialHistory(BaseModel):
    versions: list[VersionOut]
    status_changes: list[StatusChangeOut]
    verifications: list[VerificationOut]


class RevealedDocument(BaseModel):
    id_type: str
    id_number: str


async def list_versions(session: AsyncSession, credential: Credential) -> list[VersionOut]:
    """The replacement chain through this credential: what it replaced, back to the first, and what replaced
    it, newest first."""
    chain = [credential]
    earlier = credential.supersedes_id
    while earlier is not None and len(chain) < MAX_VERSIONS:
        previous = await session.get(Credential, earlier)
        if previous is None:
            break
        chain.append(previous)
        earlier = previous.supersedes_id
    later = credential.id
    while len(chain) < MAX_VERSIONS:
        successor = await session.scalar(select(Credential).where(Credential.supersedes_id == later).limit(1))
        if successor is None:
            break
        chain.insert(0, successor)
        later = successor.id
    return [
        VersionOut(
            number=c.number,
            version=c.version,
            status=c.status,
            issued_on=c.issued_on,
            created_at=c.created_at,
            current=c.id == credential.id,
        )
        for c in chain
    ]


async def read_history(session: AsyncSession, record: CredentialRecord) -> CredentialHistory:
    credential = record.credential
    changes = (
        await session.scalars(
            select(StatusChange)
            .where(StatusChange.credential_id == credential.id)
            .order_by(StatusChange.changed_at.desc(), StatusChange.id.desc())
        )
    ).all()
    # Verifications are audited under the credential's digest only (the audit holds no numbers).
    reference = f"ref:{reference_digest(credential.kind, credential.region_code, credential.number)}"
    events = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_ref == reference)
            .order_by(AuditEvent.seq.desc())
            .limit(RECENT_VERIFICATIONS)
        )
    ).all()
    return CredentialHistory(
        versions=await list_versions(session, credential),
        status_changes=[
            StatusChangeOut(
                from_status=c.from_status,
                to_status=c.to_status,
                reason=c.reason,
                actor=c.actor,
                changed_at=c.changed_at,
            )
            for c in changes
        ],
        verifications=[
            VerificationOut(
                occurred_at=e.occurred_at,
                action=e.action,
                outcome=e.outcome,
                client_id=e.client_id,
                actor=e.actor,
            )
            for e in events
        ],
    )


def reveal_document(vault: PersonalDataVault, holder: Holder) -> RevealedDocument:
    return RevealedDocument(
        id_type=holder.id_type, id_number=vault.decrypt_document(holder.id_type, holder.id_cipher)
    )
