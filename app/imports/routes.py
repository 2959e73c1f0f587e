"""Bulk import routes: upload (validate or commit), job progress, the error report, templates."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from app.audit.request_session import SessionDep
from app.audit.service import person_fields
from app.catalogue.index import CatalogueIndex
from app.db import Transactions
from app.errors import AppError, NotFound, invalid_field
from app.imports import jobs, parsing, reports, uploads
from app.imports.disk_space import ImportDiskFull, is_disk_full, log_disk_full
from app.imports.kinds import ImportKind
from app.imports.messages import describe_zh
from app.imports.schemas import ErrorReport, JobOut, JobPage, RowErrorOut, present_job
from app.models import ImportJob, ImportRowError
from app.privacy import PersonalDataVault
from app.problems import problem_responses
from app.routing import AuthFirstRoute
from app.security import Principal, check_scope, require_scope
from app.services import services_of
from app.settings import Settings


class ImportServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def transactions(self) -> Transactions: ...

    @property
    def vault(self) -> PersonalDataVault: ...

    @property
    def engine(self) -> AsyncEngine: ...

    @property
    def own_connections(self) -> bool: ...

    @property
    def import_tasks(self) -> set[asyncio.Task[Any]]: ...

    @property
    def catalogue(self) -> CatalogueIndex: ...


def services(request: Request) -> ImportServices:
    view: ImportServices = services_of(request)
    return view


router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/imports",
    tags=["imports"],
    responses=problem_responses(404, 409, 413, 415),
)
Writer = Annotated[Principal, Depends(require_scope("registry:write"))]
# `catalogue`: the shortage catalogue's rows (admins only), not credentials.
KindName = ImportKind


class FileProblem(AppError):
    slug, title = "import-file-rejected", "The file cannot be imported"

    def __init__(self, error: parsing.ImportFileError) -> None:
        super().__init__(error.message, code=error.code, row=error.row, column=error.column)
        self.status = error.status


def import_deps(request: Request) -> jobs.ImportDeps:
    return deps_of(services(request))


def deps_of(state: ImportServices) -> jobs.ImportDeps:
    """What a job run by this worker needs (a request's, or the stalled-job watcher's)."""
    return jobs.ImportDeps.build(
        state.settings,
        sessionmaker=state.sessionmaker,
        transactions=state.transactions,
        vault=state.vault,
        dialect=state.engine.dialect.name,
        own_connections=state.own_connections,
        catalogue_changed=state.catalogue.invalidate,
    )


async def read_upload(request: Request) -> UploadFile:
    """The one file of the multipart body, spooled to disk by the parser; the caller closes it."""
    try:
        form = await request.form(max_files=1, max_fields=1, max_part_size=64 * 1024)
    except HTTPException as exc:  # Starlette's answer to a malformed multipart body: one of ours instead
        raise invalid_field("file", "file.multipart", str(exc.detail)) from None
    except OSError as exc:  # the parser spools a large part to the temporary directory, which may be full
        if is_disk_full(exc):
            log_disk_full("spooling an upload to the temporary directory")
            raise ImportDiskFull() from None
        raise
    upload = form.get("file")
    if set(form.keys()) - {"file"}:
        await form.close()
        raise invalid_field("file", "file.extra_fields", "send only the multipart field 'file'")
    if not isinstance(upload, UploadFile) or not upload.filename:
        await form.close()
        raise invalid_field("file", "file.missing", "send the file as the multipart field 'file'")
    return upload


class CsvResponse(PlainTextResponse):
    """Declares text/csv in the OpenAPI document, as served."""

    media_type = "text/csv"


# The route reads the multipart body itself (streamed to disk, app/limits.py caps it), so FastAPI cannot see a
# body parameter: the document gets the body from here.
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV (UTF-8, or GB18030 when its part declares the charset), "
                            "XLSX or JSON Lines",
                        }
                    },
                },
            }
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=JobOut,
    responses={
        200: {"model": JobOut, "description": "the job already opened with this Idempotency-Key"},
        202: {"model": JobOut},
        # The upload could not be stored: the import directory (or the temporary one) is full.
        **problem_responses(507),
    },
    openapi_extra=UPLOAD_BODY,
)
async def create_import(
    request: Request,
    response: Response,
    principal: Writer,
    kind: KindName,
    mode: Literal["validate", "commit"] = "validate",
    on_error: Literal["abort", "skip"] = "abort",
    region: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobOut:
    if kind == "catalogue":
        check_scope(principal, "admin")  # the published catalogue is the admins' to change, not the clerks'
    if mode == "commit" and not idempotency_key:
        raise invalid_field(
            "Idempotency-Key", "idempotency.key_required", "a commit needs an Idempotency-Key", "header"
        )
    settings, deps = services(request).settings, import_deps(request)
    upload = await read_upload(request)
    try:
        stored = await run_in_threadpool(uploads.store_file, upload.file, settings.import_dir)
    except OSError as exc:
        if is_disk_full(exc):
            log_disk_full("storing an upload")
            raise ImportDiskFull() from None
        raise
    finally:
        await upload.close()
    charset = upload.headers.get("content-type", "").partition("charset=")[2].strip().strip('"') or None
    try:
        file_format = parsing.detect_format(upload.filename or "", upload.content_type, stored.head)
    except parsing.ImportFileError as exc:
        stored.path.unlink(missing_ok=True)
        raise FileProblem(exc) from None
    job, created = await jobs.create_job(
        deps,
        client_id=principal.client_id,
        actor=person_fields(principal.person),
        kind=kind,
        mode=mode,
        on_error=on_error,
        # People share the pages' client: each person's keys are their own.
        idempotency_key=(
            f"person:{principal.person.username}:{idempotency_key}"
            if principal.person is not None and idempotency_key
            else idempotency_key
        ),
        stored=stored,
        file_name=upload.filename or "",
        file_format=file_format,
        charset=charset,
        default_region=region,
    )
    if not created:
        response.status_code = 200
        return present_job(job, jobs.is_stale(job, deps.stale_after))
    if stored.size <= settings.import_inline_bytes:
        finished = await jobs.run_job(deps, job.id)
        if finished.problem and finished.problem.get("code", "").startswith(
            ("file.", "header.", "xlsx.", "jsonl.", "csv.")
        ):
            problem = finished.problem
            raise FileProblem(
                parsing.ImportFileError(
                    problem["status"],
                    problem["code"],
                    problem["message"],
                    problem.get("row"),
                    problem.get("column"),
                )
            )
        return present_job(finished, False)
    start_in_background(request, deps, job.id)
    response.status_code = 202
    response.headers["Location"] = f"/v1/imports/{job.id}"
    return present_job(job, False)


def start_in_background(request: Request, deps: jobs.ImportDeps, job_id: str) -> None:
    tasks: set[asyncio.Task[ImportJob]] = services(request).import_tasks
    task = asyncio.create_task(jobs.run_job(deps, job_id))
    tasks.add(task)  # a reference, or the event loop may drop the task mid-run
    task.add_done_callback(tasks.discard)


@router.get(
    "/templates/{kind}.csv",
    response_class=CsvResponse,
    dependencies=[Depends(require_scope("registry:read"))],
)
async def template(kind: KindName) -> CsvResponse:
    return CsvResponse(
        parsing.render_template(kind),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )


async def find_job(session: SessionDep, job_id: str) -> ImportJob:
    job = await session.get(ImportJob, job_id) if len(job_id) <= 32 else None
    if job is None:
        raise NotFound("no such import")
    return job


@router.get("", response_model=JobPage)
async def list_imports(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_scope("registry:write", "admin"))],
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobPage:
    """Import jobs newest first, whoever started them (a person, or a client)."""
    stale_after = import_deps(request).stale_after
    found, next_cursor = await reports.page_jobs(session, cursor=cursor, limit=limit)
    return JobPage(
        items=[present_job(j, jobs.is_stale(j, stale_after)) for j in found], next_cursor=next_cursor
    )


@router.get("/{job_id}", response_model=JobOut)
async def get_import(job_id: str, request: Request, session: SessionDep, principal: Writer) -> JobOut:
    job = await find_job(session, job_id)
    return present_job(job, jobs.is_stale(job, import_deps(request).stale_after))


@router.post("/{job_id}/resume", response_model=JobOut, status_code=202)
async def resume_import(job_id: str, request: Request, session: SessionDep, principal: Writer) -> JobOut:
    """Run again a job whose worker died (stale heartbeat): its commit is all-or-nothing and its upserts are
    idempotent, so nothing is doubled. A finished job no longer has its file (it held ID numbers in clear)."""
    deps = import_deps(request)
    job = await find_job(session, job_id)
    if job.kind == "catalogue":
        check_scope(principal, "admin")  # as for starting one: the catalogue is the admins' to change
    if not jobs.is_stale(job, deps.stale_after):
        raise jobs.ImportInProgress(
            f"the import is {job.status}; only a stalled import (its worker died) is resumed; upload again"
        )
    start_in_background(request, deps, job.id)
    return present_job(job, False)


def present_error(e: ImportRowError) -> RowErrorOut:
    return RowErrorOut(
        row=e.row, column=e.column, code=e.code, message=e.message, message_zh=describe_zh(e.code)
    )


def render_error_line(e: ImportRowError) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(
        [
            e.row or "",
            parsing.escape_csv_cell(e.column or ""),
            parsing.escape_csv_cell(e.code),
            parsing.escape_csv_cell(e.message),
            parsing.escape_csv_cell(describe_zh(e.code) or ""),
        ]
    )
    return buffer.getvalue()


async def render_error_csv(sessionmaker: async_sessionmaker[AsyncSession], job_id: str) -> AsyncIterator[str]:
    # The Chinese message comes last: clients reading the first four columns by position keep working.
    yield "row,column,code,message,message_zh\r\n"
    async for chunk in reports.stream_errors(sessionmaker, job_id):
        yield "".join(render_error_line(e) for e in chunk)


@router.get(
    "/{job_id}/errors",
    response_model=ErrorReport,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON a page at a time; CSV all of them"}},
)
async def get_errors(
    job_id: str,
    request: Request,
    session: SessionDep,
    principal: Writer,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    format: Annotated[
        Literal["csv"] | None, Query(description="csv: as `Accept: text/csv`, for a plain download link")
    ] = None,
) -> Response:
    """A page of the job's row errors in row order (JSON), or every one of them as CSV (`Accept: text/csv`,
    streamed; the cursor and limit do not apply)."""
    await find_job(session, job_id)
    if format == "csv" or "text/csv" in request.headers.get("accept", ""):
        return StreamingResponse(
            render_error_csv(services(request).sessionmaker, job_id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="errors-{job_id}.csv"'},
        )
    found, next_cursor = await reports.page_errors(
        session, job_id, after=reports.after_error_id(cursor), limit=limit
    )
    report = ErrorReport(
        errors=[present_error(e) for e in found],
        next_cursor=next_cursor,
        total=None if cursor else await reports.count_errors(session, job_id),
    )
    return Response(report.model_dump_json(), media_type="application/json")
