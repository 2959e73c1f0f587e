"""Routes of bulk status changes (scope `admin`): preview, start a job, follow it, list recent ones."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.convertors import Convertor, register_url_convertor

from app.audit.request_session import SessionDep
from app.audit.service import person_fields
from app.cards.publisher import StatusListPublisher
from app.errors import NotFound
from app.models import StatusChangeJob
from app.problems import problem_responses
from app.ratelimit import rate_limited
from app.registry import bulk
from app.registry.bulk_schemas import (
    PreviewIn,
    PreviewOut,
    StatusChangeJobIn,
    StatusChangeJobOut,
    StatusChangeJobPage,
)
from app.routing import AuthFirstRoute
from app.security import Admin
from app.services import services_of


class BulkServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def status_lists(self) -> StatusListPublisher: ...

    @property
    def own_connections(self) -> bool: ...

    @property
    def status_change_tasks(self) -> set[asyncio.Task[Any]]: ...


def services(request: Request) -> BulkServices:
    view: BulkServices = services_of(request)
    return view


router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/admin/status-changes",
    tags=["admin"],
    responses=problem_responses(404, 429),
    dependencies=[Depends(rate_limited("registry"))],
)
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


class JobIdConvertor(Convertor[str]):
    """Only a job id matches `/{job_id:job_id}`: otherwise `/preview` would match the job route too, and a 405
    on it would advertise that route's GET in its Allow header."""

    regex = "[0-9a-f]{32}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("job_id", JobIdConvertor())


def present_job(job: StatusChangeJob) -> StatusChangeJobOut:
    return StatusChangeJobOut(
        id=job.id,
        status=job.status,
        target_status=job.target_status,
        reason=job.reason,
        criteria=job.criteria,
        actor=job.actor,
        client_id=job.client_id,
        total=job.total,
        done=job.done,
        changed=job.changed,
        refused=job.refused,
        refusals=dict(job.refusals or {}),
        problem=job.problem,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.post("/preview", response_model=PreviewOut, summary="How many credentials a bulk change would touch")
async def preview_status_change(payload: PreviewIn, session: SessionDep, principal: Admin) -> PreviewOut:
    return await bulk.preview_change(session, payload, payload.status)


async def launch(view: BulkServices, job_id: str) -> None:
    """Run the job once the request committed its row. In a task of its own where work may open connections
    of its own; otherwise (every session on one connection, as in tests) to its end, here."""
    publisher = view.status_lists
    job = bulk.run_status_change(view.sessionmaker, job_id, publisher.invalidate)
    if not view.own_connections:
        await job
        return
    task = asyncio.create_task(job)
    tasks = view.status_change_tasks
    tasks.add(task)  # a reference, or the event loop may drop the task mid-run
    task.add_done_callback(tasks.discard)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=StatusChangeJobOut,
    summary="Start a bulk status change: a job that changes each credential as a single change would",
)
async def create_status_change(
    payload: StatusChangeJobIn,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Admin,
    background: BackgroundTasks,
) -> StatusChangeJobOut:
    job = bulk.open_status_change(
        session,
        payload,
        target=payload.status,
        reason=payload.reason,
        client_id=principal.client_id,
        actor=person_fields(principal.person),
    )
    await session.flush()
    background.add_task(launch, services(request), job.id)
    response.headers["Location"] = f"/v1/admin/status-changes/{job.id}"
    return present_job(job)


@router.get("", response_model=StatusChangeJobPage, summary="The most recent bulk status changes")
async def list_status_changes(
    session: SessionDep, principal: Admin, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> StatusChangeJobPage:
    return StatusChangeJobPage(items=[present_job(j) for j in await bulk.list_status_changes(session, limit)])


@router.get(
    "/{job_id:job_id}", response_model=StatusChangeJobOut, summary="A bulk status change and its progress"
)
async def get_status_change(job_id: JobId, session: SessionDep, principal: Admin) -> StatusChangeJobOut:
    job = await session.get(StatusChangeJob, job_id)
    if job is None:
        raise NotFound("no such status change")
    return present_job(job)
