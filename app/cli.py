"""The `huren` command: serve, db upgrade, demo."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from app.db import create_engine, create_sessionmaker
from app.migrate import upgrade_database
from app.reference.seed import seed_reference_data
from app.settings import Settings, get_settings

# Locals in tracebacks could print personal data (an ID number in a request body): never show them.
app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="huren 互认: Sichuan–Chongqing credential mutual recognition.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
app.add_typer(db_app, name="db")
console = Console()


def ensure_sqlite_directory(settings: Settings) -> None:
    if settings.is_sqlite:
        database = make_url(settings.database_url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


async def prepare_database(settings: Settings) -> dict[str, int]:
    """Migrate to head and add any missing reference rows: safe to run at every start."""
    ensure_sqlite_directory(settings)
    engine = create_engine(settings)
    try:
        await upgrade_database(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            return await seed_reference_data(session)
    finally:
        await engine.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations and load missing reference data."""
    added = asyncio.run(prepare_database(get_settings()))
    console.print(f"database at head; reference rows added: {sum(added.values())}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Migrate the database if needed and serve the API."""
    import uvicorn

    settings = get_settings()
    asyncio.run(prepare_database(settings))
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        proxy_headers=False,
        server_header=False,
    )


@app.command()
def demo() -> None:
    """Load the demo data set for both regions (idempotent) and print how to use it."""
    from app.demo import load_demo, print_demo_guide

    settings = get_settings()

    async def run() -> dict[str, int]:
        await prepare_database(settings)
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await load_demo(session, settings)
        finally:
            await engine.dispose()

    counts = asyncio.run(run())
    print_demo_guide(console, settings, counts)


if __name__ == "__main__":
    app()
