"""`huren import`: the same job as the HTTP route, run in this process with a progress bar and a summary."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from app.bootstrap import prepare_database
from app.db import create_engine, create_sessionmaker
from app.errors import AppError
from app.imports import jobs, parsing, uploads
from app.imports.kinds import IMPORT_KINDS as KINDS
from app.models import ImportJob
from app.privacy import PersonalDataVault
from app.settings import Settings


def estimate_rows(path: Path, file_format: str) -> int | None:
    """Line count of a text file, less the header: a good total for the bar (XLSX: unknown)."""
    if file_format == "xlsx":
        return None
    with path.open("rb") as source:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: source.read(1 << 20), b""))
    return max(lines - (1 if file_format == "csv" else 0), 1)


async def run_import_file(
    settings: Settings,
    console: Console,
    file: Path,
    *,
    kind: str,
    region: str | None,
    validate_only: bool,
    on_error: str,
    charset: str | None,
) -> int:
    if kind not in KINDS or on_error not in ("abort", "skip"):
        raise AppError(f"--kind is one of {', '.join(KINDS)}; --on-error is abort or skip")
    await prepare_database(settings)
    engine = create_engine(settings)
    deps = jobs.ImportDeps.build(
        settings,
        sessionmaker=create_sessionmaker(engine),
        transactions=engine.begin,
        vault=PersonalDataVault.from_settings(settings),
        dialect=engine.dialect.name,
    )
    try:
        with file.open("rb") as source:
            stored = uploads.store_file(source, settings.import_dir)
        try:
            file_format = parsing.detect_format(file.name, None, stored.head)
        except parsing.ImportFileError as exc:
            stored.path.unlink(missing_ok=True)
            raise AppError(exc.message) from None
        job, _ = await jobs.create_job(
            deps,
            client_id="cli",
            actor=None,
            kind=kind,
            mode="validate" if validate_only else "commit",
            on_error=on_error,
            idempotency_key=None,
            stored=stored,
            file_name=file.name,
            file_format=file_format,
            charset=charset,
            default_region=region,
        )
        finished = await run_with_progress(
            deps, job.id, estimate_rows(Path(job.file_path), file_format), console
        )
    finally:
        await engine.dispose()
    print_summary(console, finished)
    return 0 if finished.status == "succeeded" and not finished.rejected else 1


async def run_with_progress(
    deps: jobs.ImportDeps, job_id: str, total: int | None, console: Console
) -> ImportJob:
    columns = (
        TextColumn("{task.description:>9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>9,.0f} rows/s"),
        TimeRemainingColumn(),
    )
    started: dict[str, float] = {}
    tasks: dict[str, TaskID] = {}
    with Progress(*columns, console=console, transient=False) as progress:

        async def report(phase: str, rows: int) -> None:
            if phase not in tasks:
                started[phase] = time.monotonic()
                tasks[phase] = progress.add_task(phase, total=total, rate=0.0)
            rate = rows / max(time.monotonic() - started[phase], 1e-6)
            progress.update(tasks[phase], completed=rows, rate=rate)

        finished = await jobs.run_job(deps, job_id, on_progress=report)
        for phase, task in tasks.items():
            progress.update(task, total=progress.tasks[task].completed if phase == "validate" else None)
    return finished


def print_summary(console: Console, job: ImportJob) -> None:
    table = Table(title=f"import {job.id} ({job.kind}, {job.mode})")
    for column in ("status", "rows", "inserted", "updated", "unchanged", "rejected"):
        table.add_column(column, justify="right")
    table.add_row(
        job.status,
        str(job.total_rows or 0),
        str(job.inserted),
        str(job.updated),
        str(job.unchanged),
        str(job.rejected),
    )
    console.print(table)
    if job.problem:
        console.print(f"[red]{job.problem.get('message')}[/red] ({job.problem.get('code')})")
    if job.rejected:
        console.print(f"rejected rows: GET /v1/imports/{job.id}/errors (Accept: text/csv for a spreadsheet)")
