"""Contracts of the import routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

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
    file_name: str
    client_id: str
    actor: str | None = Field(description="the person who started it (a staff username); null for a client")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


class RowErrorOut(BaseModel):
    row: int | None
    column: str | None
    code: str
    message: str
    message_zh: str | None = Field(description="the code's Chinese message; null when none is known yet")


class ErrorReport(BaseModel):
    errors: list[RowErrorOut]
    next_cursor: str | None = Field(description="the next page's cursor; null on the last page")
    total: int | None = Field(description="how many errors the job has, on the first page only")


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
        file_name=job.file_name,
        client_id=job.client_id,
        actor=job.actor,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
