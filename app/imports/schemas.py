"""Contracts of the import routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.models import ImportJob


class JobOut(BaseModel):
    id: str
    kind: str
    mode: str
    on_error: str
    status: str
    phase: str | None
    stalled: bool
    total_rows: int | None
    processed_rows: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    problem: dict[str, Any] | None
    errors_url: str
    created_at: datetime
    finished_at: datetime | None


class RowErrorOut(BaseModel):
    row: int | None
    column: str | None
    code: str
    message: str


class ErrorReport(BaseModel):
    errors: list[RowErrorOut]


def present_job(job: ImportJob, stalled: bool) -> JobOut:
    return JobOut(
        id=job.id,
        kind=job.kind,
        mode=job.mode,
        on_error=job.on_error,
        status=job.status,
        phase=job.phase,
        stalled=stalled,
        total_rows=job.total_rows,
        processed_rows=job.processed_rows,
        inserted=job.inserted,
        updated=job.updated,
        unchanged=job.unchanged,
        rejected=job.rejected,
        problem=job.problem,
        errors_url=f"/v1/imports/{job.id}/errors",
        created_at=job.created_at,
        finished_at=job.finished_at,
    )
