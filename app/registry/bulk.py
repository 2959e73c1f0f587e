"""Bulk status changes: the credentials a filter or selection names, a preview, and the job that changes them.

Who commits: the job runner here (`run_status_change`), chunk by chunk, each chunk with its changes, their
audit events, the status lists' revision and the job's progress in ONE transaction: a worker that dies leaves
the job's counts true to what was stored. Every credential changes through `service.change_status`, the
function a single change uses, so the state machine refuses here exactly what it refuses there, per row.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import PersonFields, append_pending_events, record_event
from app.cards.service import bump_revision
from app.domain.calendar import china_today
from app.domain.errors import ForbiddenTransition
from app.domain.status import CredentialStatus, check_transition, effective_status
from app.models import Credential, Organisation, StatusChangeJob
from app.registry import service
from app.registry.bulk_schemas import SAMPLE_SIZE, CredentialFilter, PreviewOut, SampleRow, Selection

CHUNK_ROWS = 500  # credentials per transaction of a job: a progress step, and the most a crash can redo


def where_filtered(wanted: CredentialFilter, today: date) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.kind:
        conditions.append(Credential.kind == wanted.kind)
    if wanted.region:
        conditions.append(Credential.region_code == wanted.region)
    if wanted.issuer_usci:
        issuer = select(Organisation.id).where(Organisation.usci == wanted.issuer_usci).scalar_subquery()
        conditions.append(Credential.issuer_id == issuer)
    if wanted.import_job:
        conditions.append(Credential.import_job_id == wanted.import_job)
    if wanted.issued_from:
        conditions.append(Credential.issued_on >= wanted.issued_from)
    if wanted.issued_to:
        conditions.append(Credential.issued_on <= wanted.issued_to)
    if wanted.status:
        conditions.append(service.where_effective_status(CredentialStatus(wanted.status), today))
    return and_(*conditions)


def where_selected(selected: Selection, today: date) -> ColumnElement[bool]:
    """The SQL condition for a filter or a selection. A selection is grouped by (kind, region), so each group
    is one IN list the unique index on (kind, region_code, number) serves."""
    if selected.filter is not None:
        return where_filtered(selected.filter, today)
    groups: dict[tuple[str, str], list[str]] = {}
    for key in selected.selection or []:
        groups.setdefault((key.kind, key.region), []).append(key.number)
    if not groups:
        return false()
    return or_(
        *(
            and_(Credential.kind == kind, Credential.region_code == region, Credential.number.in_(numbers))
            for (kind, region), numbers in groups.items()
        )
    )


def refusal_of(stored: str, lapsed: bool, target: str) -> str | None:
    """The state machine's refusal code for a credential stored as `stored` (past its last day if `lapsed`),
    or None if it may go to `target`: the same check change_status makes."""
    current = CredentialStatus(stored)
    if lapsed and current in (CredentialStatus.ACTIVE, CredentialStatus.SUSPENDED):
        current = CredentialStatus.EXPIRED  # what effective_status shows past the last valid day
    try:
        check_transition(current, CredentialStatus(target))
    except ForbiddenTransition as exc:
        return str(exc.extra["code"])
    return None


async def preview_change(session: AsyncSession, selected: Selection, target: str) -> PreviewOut:
    """How many credentials the change names, the first SAMPLE_SIZE of them (masked), and how many the state
    machine would refuse. Two aggregate queries and one page: bounded whatever the registry's size."""
    today = china_today()
    condition = where_selected(selected, today)
    lapsed = case((Credential.valid_until < today, True), else_=False)
    groups = (
        await session.execute(
            select(Credential.status, lapsed, func.count())
            .where(condition)
            .group_by(Credential.status, lapsed)
        )
    ).all()
    count = sum(n for _, _, n in groups)
    refused = sum(n for stored, past, n in groups if refusal_of(stored, bool(past), target) is not None)
    records = await session.execute(
        service.select_records().where(condition).order_by(Credential.id).limit(SAMPLE_SIZE)
    )
    sample = []
    for row in records.all():
        credential, holder, issuer = row[0], row[1], row[2]
        shown = effective_status(CredentialStatus(credential.status), credential.valid_until, today)
        sample.append(
            SampleRow(
                kind=credential.kind,
                region=credential.region_code,
                number=credential.number,
                holder_name=holder.name,
                holder_id_masked=holder.id_masked,
                issuer_name=issuer.name,
                status=shown.value,
                issued_on=credential.issued_on,
                refused_code=refusal_of(credential.status, shown.value != credential.status, target),
            )
        )
    return PreviewOut(count=count, sample=sample, refused_by_state_machine=refused)


def open_status_change(
    session: AsyncSession,
    selected: Selection,
    *,
    target: str,
    reason: str,
    client_id: str,
    actor: PersonFields,
) -> StatusChangeJob:
    """The job row and its `status_change.created` event, in the caller's transaction (flushed by it)."""
    job = StatusChangeJob(
        id=uuid.uuid4().hex,
        target_status=target,
        reason=reason,
        criteria=selected.model_dump(mode="json", exclude_none=True, include={"filter", "selection"}),
        status="queued",
        client_id=client_id,
        **actor,
        total=0,
        done=0,
        changed=0,
        refused=0,
        refusals={},
        created_at=datetime.now(UTC),
    )
    session.add(job)
    record_event(
        session,
        "status_change.created",
        client_id=client_id,
        actor=actor,
        object_ref=f"status_change:{job.id}",
        details={"status": target},
    )
    return job


def actor_of(job: StatusChangeJob) -> PersonFields:
    return {"actor": job.actor, "actor_method": job.actor_method, "actor_roles": job.actor_roles}


@dataclass
class Tally:
    done: int = 0
    changed: int = 0
    refusals: Counter[str] | None = None

    def add(self, chunk: Tally) -> None:
        self.done += chunk.done
        self.changed += chunk.changed
        self.refusals = (self.refusals or Counter()) + (chunk.refusals or Counter())

    def as_values(self) -> dict[str, Any]:
        refusals = dict(self.refusals or {})
        return {
            "done": self.done,
            "changed": self.changed,
            "refused": sum(refusals.values()),
            "refusals": refusals,
        }


async def run_status_change(
    sessionmaker: async_sessionmaker[AsyncSession],
    job_id: str,
    on_lists_changed: Callable[[str], None],
) -> None:
    """Change every credential the job names, in id order, CHUNK_ROWS per committed transaction.

    Keyset order by id keeps the walk stable while it changes the very column a filter may select on.
    `on_lists_changed(region)` is called after each commit that changed a card of that region (the process's
    signed status lists are dropped, as after a single change).
    """
    async with sessionmaker() as session:
        job = await session.get(StatusChangeJob, job_id)
        if job is None:
            return
        selected = Selection.model_validate(job.criteria)
        condition = where_selected(selected, china_today())
        total = await session.scalar(select(func.count()).select_from(Credential).where(condition)) or 0
        values = {"status": "running", "started_at": datetime.now(UTC), "total": total}
        await session.execute(update(StatusChangeJob).where(StatusChangeJob.id == job_id).values(**values))
        await session.commit()
        target, reason, client_id, actor = job.target_status, job.reason, job.client_id, actor_of(job)
    tally, after = Tally(refusals=Counter()), 0
    try:
        while True:
            async with sessionmaker() as session:
                rows = (
                    await session.execute(
                        select(Credential.id, Credential.kind, Credential.region_code, Credential.number)
                        .where(condition, Credential.id > after)
                        .order_by(Credential.id)
                        .limit(CHUNK_ROWS)
                    )
                ).all()
                if not rows:
                    break
                regions: set[str] = set()
                # Counted into the job only once the chunk commits: a failed chunk changed nothing.
                chunk = Tally(refusals=Counter())
                for credential_id, kind, region, number in rows:
                    chunk.done += 1
                    try:
                        await service.change_status(
                            session,
                            kind=kind,
                            region=region,
                            number=number,
                            target=target,
                            reason=reason,
                            # The status history names the person, as a single change does.
                            actor=actor["actor"] or client_id,
                        )
                    except ForbiddenTransition as exc:
                        assert chunk.refusals is not None
                        chunk.refusals[str(exc.extra["code"])] += 1
                        continue
                    chunk.changed += 1
                    record_event(
                        session,
                        "credential.status_changed",
                        client_id=client_id,
                        actor=actor,
                        object_ref=f"credential:{credential_id}",
                        details={"status": target, "status_change": job_id},
                    )
                    if kind == "card":
                        regions.add(region)
                for region in sorted(regions):
                    await bump_revision(session, region)
                after = rows[-1][0]
                committed = Tally(tally.done, tally.changed, Counter(tally.refusals or {}))
                committed.add(chunk)
                await session.execute(
                    update(StatusChangeJob)
                    .where(StatusChangeJob.id == job_id)
                    .values(**committed.as_values())
                )
                await append_pending_events(session)
                await session.commit()
                tally = committed
            for region in regions:
                on_lists_changed(region)
    except BaseException as exc:
        # Chunks already committed stay changed (and counted); the rest is untouched. Logged by type only.
        # BaseException: a job cancelled at shutdown is marked failed, not left "running".
        await finish_job(sessionmaker, job_id, tally, client_id, actor, problem=type(exc).__name__)
        raise
    await finish_job(sessionmaker, job_id, tally, client_id, actor, problem=None)


async def finish_job(
    sessionmaker: async_sessionmaker[AsyncSession],
    job_id: str,
    tally: Tally,
    client_id: str,
    actor: PersonFields,
    *,
    problem: str | None,
) -> None:
    async with sessionmaker() as session:
        values = tally.as_values()
        await session.execute(
            update(StatusChangeJob)
            .where(StatusChangeJob.id == job_id)
            .values(
                status="failed" if problem else "succeeded",
                problem=problem,
                finished_at=datetime.now(UTC),
                **values,
            )
        )
        record_event(
            session,
            "status_change.finished",
            outcome="failure" if problem else "success",
            client_id=client_id,
            actor=actor,
            object_ref=f"status_change:{job_id}",
            details={"changed": values["changed"], "refused": values["refused"]},
        )
        await append_pending_events(session)
        await session.commit()


async def list_status_changes(session: AsyncSession, limit: int) -> list[StatusChangeJob]:
    query = select(StatusChangeJob).order_by(StatusChangeJob.created_at.desc()).limit(limit)
    return list((await session.scalars(query)).all())
