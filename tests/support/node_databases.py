"""Databases of their own for real `huren serve` nodes in fault tests: a SQLite file, or a PostgreSQL
database created beside the suite's (named after it, so runs sharing the server never meet), dropped after.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url


def psql_args(url: str, database: str | None = None) -> list[str]:
    """Connection options of the psql family of tools for a SQLAlchemy PostgreSQL URL."""
    parsed = make_url(url)
    return [
        "-h",
        parsed.host or "127.0.0.1",
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username or "postgres",
        "-d",
        database or parsed.database or "postgres",
    ]


def run_psql(url: str, sql: str, database: str | None = None) -> str:
    result = subprocess.run(
        ["psql", *psql_args(url, database), "-v", "ON_ERROR_STOP=1", "-tAc", sql],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


@contextmanager
def postgres_database(suite_url: str, suffix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database `<the suite's database>_<suffix>`; its URL. Dropped afterwards."""
    name = f"{make_url(suite_url).database}_{suffix}"
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    run_psql(suite_url, drop, database="postgres")
    run_psql(suite_url, f'CREATE DATABASE "{name}"', database="postgres")
    try:
        yield with_database(suite_url, name)
    finally:
        run_psql(suite_url, drop, database="postgres")


@contextmanager
def node_database(kind: str, suite_url: str | None, directory: Path, suffix: str) -> Iterator[str]:
    """A node's database URL: a SQLite file in `directory`, or a PostgreSQL database of its own."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / f'{suffix}.db'}"
        return
    assert suite_url is not None
    with postgres_database(suite_url, suffix) as url:
        yield url


def count_rows(url: str, table: str) -> int:
    """Rows of a table, read outside the service (as an operator would)."""
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(make_url(url).database or "")) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - our names
    return int(run_psql(url, f"SELECT count(*) FROM {table}"))  # noqa: S608 - our table names
