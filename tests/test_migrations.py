"""Migrations: one head, upgrade from empty, downgrade to base and back, and models equal to migrations."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db import Base, install_sqlite_pragmas
from app.migrate import build_alembic_config, run_downgrade, run_upgrade


@pytest.fixture(scope="module")
async def empty_engine(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    """A database of its own, so that going down to base never touches the suite's shared one."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('mig') / 'm.db'}")
        install_sqlite_pragmas(engine)
        yield engine
        await engine.dispose()
        return
    name = f"{url.database}_migrations"
    admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_async_engine(url.set(database=name))
    yield engine
    await engine.dispose()
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


def test_single_head() -> None:
    heads = ScriptDirectory.from_config(build_alembic_config()).get_heads()
    assert len(heads) == 1


def table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def model_diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_downgrade_and_back(empty_engine: AsyncEngine) -> None:
    async with empty_engine.begin() as conn:
        assert await conn.run_sync(table_names) == set()
        await conn.run_sync(run_upgrade)
        assert await conn.run_sync(table_names) == set(Base.metadata.tables)
        assert await conn.run_sync(model_diff) == []
    async with empty_engine.begin() as conn:
        await conn.run_sync(run_downgrade)
        assert await conn.run_sync(table_names) == set()
    async with empty_engine.begin() as conn:
        await conn.run_sync(run_upgrade)
        assert await conn.run_sync(model_diff) == []


def test_migration_files_have_dated_names(repo_root: Any) -> None:
    names = [p.name for p in (repo_root / "migrations" / "versions").glob("*.py")]
    assert names
    assert all(name[:8].isdigit() and name[8] == "_" for name in names), names


def test_alembic_command_migrates_like_huren(repo_root: Path, tmp_path: Path) -> None:
    """`alembic upgrade head` from the project folder, with its alembic.ini, reaches the same head."""
    database = tmp_path / "alembic.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUREN_")}
    env["HUREN_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    alembic = [sys.executable, "-m", "alembic"]
    done = subprocess.run(
        [*alembic, "upgrade", "head"], cwd=repo_root, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Running upgrade" in done.stderr
    head = ScriptDirectory.from_config(build_alembic_config()).get_current_head()
    with closing(sqlite3.connect(database)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]


def test_every_package_and_the_migrations_are_shipped(repo_root: Path) -> None:
    """pyproject.toml lists the packages by hand (to map migrations/ into the wheel): none may be missing."""
    setuptools = tomllib.loads((repo_root / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(init.parent.relative_to(repo_root).parts)
        for init in (repo_root / "app").rglob("__init__.py")
    }
    assert found | {"app.migrations", "app.migrations.versions"} == set(setuptools["packages"])
    assert setuptools["package-dir"] == {"app.migrations": "migrations"}
