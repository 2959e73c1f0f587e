"""A database made ready to serve: migrated, its reference rows loaded and a first signing key made.

Below the command line, so that each command that touches the database (serve, import, demo, the
maintenance commands) prepares it in the same way without importing the CLI.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.db import create_engine, create_sessionmaker
from app.keys import ensure_signing_key, open_private_key
from app.migrate import upgrade_database
from app.models import SigningKey
from app.privacy import decode_key
from app.reference.seed import seed_reference_data
from app.settings import Settings


def ensure_sqlite_directory(settings: Settings) -> None:
    if settings.is_sqlite:
        database = make_url(settings.database_url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


async def prepare_database(settings: Settings) -> dict[str, int]:
    """Migrate to head, add any missing reference rows and make the first signing key: safe at every start.

    Done once before the workers start, so that two workers never race to create the first key.
    """
    ensure_sqlite_directory(settings)
    engine = create_engine(settings)
    try:
        await upgrade_database(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            added = await seed_reference_data(session)
            added["signing_keys"] = int(await ensure_signing_key(session, data_key_of(settings)))
            return added
    finally:
        await engine.dispose()


def data_key_of(settings: Settings) -> bytes:
    return decode_key(settings.data_key.get_secret_value())


class DataKeyMismatch(RuntimeError):
    """HUREN_DATA_KEY is not the key this database's secrets were sealed with (restored with another)."""


async def check_data_key(settings: Settings) -> None:
    """Every signing key in use opens with HUREN_DATA_KEY, or the node must not start.

    A database restored with another data key would otherwise start and fail at its first signature; and
    its ID-number ciphers, sealed with the same key, could not be read either. Said once, before serving.
    """
    data_key = data_key_of(settings)
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            in_use = select(SigningKey.kid, SigningKey.private_key_cipher).where(
                SigningKey.retired_at.is_(None)
            )
            keys = (await conn.execute(in_use)).all()
    finally:
        await engine.dispose()
    for kid, cipher in keys:
        try:
            open_private_key(data_key, kid, cipher)
        except InvalidTag:
            raise DataKeyMismatch(
                f"HUREN_DATA_KEY does not decrypt this database's signing key {kid}: it is not the key the "
                "database was written with (restore with the node's own HUREN_DATA_KEY; see README, "
                "Backup and restore)"
            ) from None
