"""The `huren` command: serve, db upgrade, demo."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import append_pending_events, purge_events, record_event, verify_chain
from app.bootstrap import DataKeyMismatch, check_data_key, data_key_of, prepare_database
from app.clients.service import create_client, disable_client, list_clients
from app.db import create_engine, create_sessionmaker
from app.errors import AppError
from app.imports.kinds import IMPORT_KINDS
from app.keys import rotate_signing_key
from app.people.accounts import Actor, create_staff, disable_staff, list_staff, reset_factor
from app.people.roles import load_role_scopes, split_list
from app.privacy import PersonalDataVault
from app.settings import Settings, get_settings

if TYPE_CHECKING:
    from app.demo import DemoSummary

T = TypeVar("T")

# A command's own heavy imports (uvicorn, the demo set, the import pipeline with openpyxl: about 0.2 s) are
# made inside it, so that `huren --help` and the other commands do not wait for them. Start-up cost only:
# nothing below imports this module back.

# Locals in tracebacks could print personal data (an ID number in a request body): never show them.
app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="huren 互认: Sichuan–Chongqing credential mutual recognition.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
clients_app = typer.Typer(no_args_is_help=True, help="OAuth 2.0 clients.")
keys_app = typer.Typer(no_args_is_help=True, help="Signing keys.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit log.")
staff_app = typer.Typer(no_args_is_help=True, help="Staff accounts: admins, clerks and auditors.")
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(staff_app, name="staff")
console = Console()


@app.callback()
def check_settings() -> None:
    """huren 互认: Sichuan–Chongqing credential mutual recognition."""
    # Every command reads the settings: a configuration that cannot work stops here with what is wrong in it,
    # before anything starts (and never as a traceback).
    try:
        get_settings()
    except (ValidationError, SettingsError) as exc:
        problems = exc.errors() if isinstance(exc, ValidationError) else [{"msg": str(exc), "loc": ()}]
        for problem in problems:
            where = ".".join(str(part) for part in problem["loc"])
            console.print(
                f"[red]configuration error[/red] {('HUREN_' + where.upper() + ': ') if where else ''}"
                f"{problem['msg']}",
                soft_wrap=True,
            )
        raise typer.Exit(2) from None


async def in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work in a committed transaction on a migrated database."""
    await prepare_database(settings)
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            result = await work(session)
            await append_pending_events(session)
            return result
    finally:
        await engine.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations and load missing reference data."""
    added = asyncio.run(prepare_database(get_settings()))
    console.print(f"database at head; reference rows added: {sum(added.values())}")


def served_url(host: str, port: int) -> str:
    """The base URL of `huren serve --host --port`. A wildcard address names no host a client could use:
    such a node is reached on this machine's loopback unless HUREN_PUBLIC_URL says otherwise."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - read, not bound
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Migrate the database if needed and serve the API."""
    import uvicorn  # start-up cost, see the top

    settings = get_settings()
    if "public_url" not in settings.model_fields_set:
        # Unset, the node names itself by where it is served: tokens, receipts, card tokens' status-list URLs
        # and private_key_jwt audiences then point at a port it listens on. The workers read the environment.
        os.environ["HUREN_PUBLIC_URL"] = served_url(host, port)
        get_settings.cache_clear()
        settings = get_settings()
    if "rate_limit_processes" not in settings.model_fields_set:
        # Each worker's share of a budget while Redis is gone (app.ratelimit); workers read the environment.
        os.environ["HUREN_RATE_LIMIT_PROCESSES"] = str(workers)
    console.print(f"public URL: {settings.public_url}")
    asyncio.run(prepare_database(settings))
    try:
        asyncio.run(check_data_key(settings))
    except DataKeyMismatch as exc:
        console.print(f"[red]refusing to start[/red]: {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


@app.command()
def demo() -> None:
    """Load the demo data set and demo clients for both regions (idempotent) and print how to use them."""
    from app.demo import print_demo_guide  # start-up cost, see the top

    settings = get_settings()
    if settings.env == "production":
        console.print(
            "[red]huren demo refuses to run in production: its clients have published secrets[/red]"
        )
        raise typer.Exit(2)
    summary = asyncio.run(run_demo(settings))
    print_demo_guide(console, settings, summary)


async def run_demo(settings: Settings) -> DemoSummary:
    # Start-up cost, see the top.
    from app.demo import load_demo
    from app.imports.jobs import ImportDeps

    await prepare_database(settings)
    engine = create_engine(settings)
    try:
        deps = ImportDeps.build(
            settings,
            sessionmaker=create_sessionmaker(engine),
            transactions=engine.begin,
            vault=PersonalDataVault.from_settings(settings),
            dialect=engine.dialect.name,
        )
        return await load_demo(deps, settings)
    finally:
        await engine.dispose()


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Display name, e.g. the HR system's name")],
    region: Annotated[str, typer.Option(help="The client's region: SC or CQ")],
    scopes: Annotated[str, typer.Option(help='Space-separated scopes, e.g. "verify registry:read"')],
    rate_limit: Annotated[int | None, typer.Option(help="Requests per minute on rate-limited routes")] = None,
    org_name: Annotated[str | None, typer.Option(help="Organisation name")] = None,
    org_usci: Annotated[str | None, typer.Option(help="Organisation unified social credit code")] = None,
    jwks_file: Annotated[Path | None, typer.Option(help="JSON file with the client's public JWKS")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Register an OAuth2 client; prints client_id and client_secret once."""
    jwks = json.loads(jwks_file.read_text(encoding="utf-8")) if jwks_file else None

    async def work(session: AsyncSession) -> tuple[str, str]:
        client, secret = await create_client(
            session,
            name=name,
            region=region.upper(),
            scopes=scopes,
            rate_limit_per_minute=rate_limit,
            org_name=org_name,
            org_usci=org_usci,
            jwks=jwks,
        )
        record_event(session, "client.created", client_id="cli", object_ref=f"client:{client.client_id}")
        return client.client_id, secret

    client_id, secret = run_or_explain(in_session(get_settings(), work))
    if as_json:
        print(json.dumps({"client_id": client_id, "client_secret": secret}))
    else:
        console.print(
            f"client_id:     {client_id}\nclient_secret: {secret}\n(the secret is shown only this once)"
        )


@clients_app.command("list")
def clients_list() -> None:
    """List the registered clients."""

    async def work(session: AsyncSession) -> list[tuple[str, ...]]:
        return [
            (c.client_id, c.name, c.region_code, c.scopes, "disabled" if c.disabled_at else "active")
            for c in await list_clients(session)
        ]

    table = Table("name", "region", "scopes", "state")
    table.add_column("client_id", no_wrap=True)
    for row in run_or_explain(in_session(get_settings(), work)):
        client_id, *rest = row
        table.add_row(*rest, client_id)
    console.print(table)


@clients_app.command("disable")
def clients_disable(client_id: Annotated[str, typer.Argument(help="The client to disable")]) -> None:
    """Disable a client: no new tokens, and its current tokens stop working within seconds."""

    async def work(session: AsyncSession) -> None:
        await disable_client(session, client_id)
        record_event(session, "client.disabled", client_id="cli", object_ref=f"client:{client_id}")

    run_or_explain(in_session(get_settings(), work))
    console.print(f"{client_id} disabled")


CLI_ACTOR = Actor(client_id="cli")


@staff_app.command("create")
def staff_create(
    username: Annotated[str, typer.Option(help="Sign-in name: a-z, 0-9, '.', '_', '-'")],
    display_name: Annotated[str, typer.Option(help="The person's name as shown, e.g. 王小明")],
    regions: Annotated[str, typer.Option(help="Regions the person acts for: SC, CQ or SC,CQ")],
    roles: Annotated[str, typer.Option(help="Roles: admin, clerk, auditor, comma-separated")],
    as_json: Annotated[bool, typer.Option("--json", help='Print {"username", "password"}')] = False,
) -> None:
    """Create a person; prints a one-time initial password. A TOTP factor is enrolled at first sign-in."""
    settings = get_settings()

    async def work(session: AsyncSession) -> tuple[str, str | None]:
        member, password = await create_staff(
            session,
            username=username,
            display_name=display_name,
            regions=[r.upper() for r in split_list(regions)],
            roles=[r.lower() for r in split_list(roles)],
            known_regions=[*settings.regions, *settings.peers],
            role_scopes=await load_role_scopes(session),
            actor=CLI_ACTOR,
        )
        return member.username, password

    name, password = run_or_explain(in_session(settings, work))
    if as_json:
        print(json.dumps({"username": name, "password": password}))
    else:
        console.print(
            f"username: {name}\npassword: {password}\n"
            "(shown only this once; the person enrols an authenticator app at the first sign-in)"
        )


@staff_app.command("list")
def staff_list() -> None:
    """List staff accounts with their roles, regions, second factor and state."""

    async def work(session: AsyncSession) -> list[tuple[str, ...]]:
        return [
            (
                m.username,
                m.display_name,
                m.roles,
                m.regions,
                m.source,
                "enrolled" if m.totp_enrolled_at else "-",
                "disabled" if m.disabled_at else "active",
            )
            for m in await list_staff(session)
        ]

    table = Table("username", "name", "roles", "regions", "source", "TOTP", "state")
    for row in run_or_explain(in_session(get_settings(), work)):
        table.add_row(*row)
    console.print(table)


@staff_app.command("disable")
def staff_disable(username: Annotated[str, typer.Argument(help="The person to disable")]) -> None:
    """Disable a person: they cannot sign in, and their open sessions end at once."""

    async def work(session: AsyncSession) -> str:
        member = await disable_staff(session, username, actor=CLI_ACTOR, now=datetime.now(UTC))
        return member.username

    console.print(f"{run_or_explain(in_session(get_settings(), work))} disabled; their sessions are ended")


@staff_app.command("reset-factor")
def staff_reset_factor(
    username: Annotated[str, typer.Argument(help="The person whose factor to reset")],
) -> None:
    """Forget a person's TOTP factor (a lost phone): they enrol a new one at their next sign-in."""

    async def work(session: AsyncSession) -> str:
        member = await reset_factor(session, username, actor=CLI_ACTOR, now=datetime.now(UTC))
        return member.username

    name = run_or_explain(in_session(get_settings(), work))
    console.print(f"{name}: second factor reset; they enrol a new one at their next sign-in")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Start a new signing key; the old public keys stay published."""
    settings = get_settings()

    async def work(session: AsyncSession) -> str:
        key = await rotate_signing_key(session, data_key_of(settings))
        record_event(session, "key.rotated", client_id="cli", object_ref=f"kid:{key.kid}")
        return key.kid

    kid = asyncio.run(in_session(settings, work))
    console.print(
        f"new signing key {kid}; running workers pick it up within {settings.key_refresh_seconds} s"
    )


@audit_app.command("purge")
def audit_purge(
    older_than_days: Annotated[
        int | None, typer.Option(help="Remove events older than this (default: HUREN_AUDIT_RETENTION_DAYS)")
    ] = None,
) -> None:
    """Remove audit events past their retention; the chain stays verifiable from the first kept event."""
    settings = get_settings()
    days = settings.audit_retention_days if older_than_days is None else older_than_days
    if days < settings.audit_retention_days:
        console.print(f"[red]events are kept at least {settings.audit_retention_days} days[/red]")
        raise typer.Exit(2)
    before = datetime.now(UTC) - timedelta(days=days)
    removed = asyncio.run(in_session(settings, lambda session: purge_events(session, before)))
    console.print(f"removed {removed} audit events older than {days} days")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain; prints the first broken link, if any."""
    report = asyncio.run(in_session(get_settings(), verify_chain))
    if report.intact:
        console.print(f"audit chain intact: {report.checked} events")
        return
    console.print(
        f"[red]audit chain broken at event {report.broken_at}: {report.reason}[/red]"
        f" ({report.checked} events verified before it)"
    )
    raise typer.Exit(1)


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV, XLSX or JSON Lines")
    ],
    kind: Annotated[str, typer.Option(help=", ".join(IMPORT_KINDS) + " (catalogue: the shortage catalogue)")],
    region: Annotated[str | None, typer.Option(help="Region for rows that have none (SC or CQ)")] = None,
    validate_only: Annotated[
        bool, typer.Option("--validate-only", help="Check every row, store nothing")
    ] = False,
    on_error: Annotated[
        str, typer.Option(help="abort (all-or-nothing) or skip (store the valid rows)")
    ] = "abort",
    charset: Annotated[str | None, typer.Option(help="CSV encoding when not UTF-8, e.g. GB18030")] = None,
) -> None:
    """Bulk import from the shell, with a progress bar and a summary; exit code 1 when rows were rejected."""
    from app.imports.cli_run import run_import_file  # start-up cost, see the top

    code = run_or_explain(
        run_import_file(
            get_settings(),
            console,
            file,
            kind=kind,
            region=region,
            validate_only=validate_only,
            on_error=on_error,
            charset=charset,
        )
    )
    raise typer.Exit(code)


def run_or_explain(work: Coroutine[Any, Any, T]) -> T:
    """Run, and turn the service's own errors into a one-line message and exit code 2."""
    try:
        return asyncio.run(work)
    except AppError as exc:
        details = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors or [])
        console.print(f"[red]{exc.detail}[/red] {details}")
        raise typer.Exit(2) from None


if __name__ == "__main__":
    app()
