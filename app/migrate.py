"""Alembic, driven from code: `huren db upgrade`, `huren serve` and the tests all migrate through here."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def find_migrations() -> Path:
    """The top-level `migrations/` of a source checkout (where `alembic.ini` points too), or, in an installed
    wheel, the same folder shipped inside the package as `app/migrations` (see pyproject.toml)."""
    package = Path(__file__).parent
    for candidate in (package.parent / "migrations", package / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("the migrations folder is missing from this installation")


MIGRATIONS_DIR = find_migrations()


def build_alembic_config(database_url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def run_upgrade(connection: Connection, revision: str = "head") -> None:
    command.upgrade(build_alembic_config(connection=connection), revision)


def run_downgrade(connection: Connection, revision: str = "base") -> None:
    command.downgrade(build_alembic_config(connection=connection), revision)


async def upgrade_database(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(run_upgrade, revision)
