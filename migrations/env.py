"""Alembic environment: runs on a connection handed over by app.migrate (`huren db upgrade`, the tests), or
opens one from the URL (`alembic upgrade head` with the project's alembic.ini)."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.db import Base
from app.settings import get_settings

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_url(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(run_on)
    await engine.dispose()


if context.config.config_file_name:  # the alembic command: its log lines say which revisions ran
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)
connection = context.config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
    asyncio.run(run_from_url(url))
