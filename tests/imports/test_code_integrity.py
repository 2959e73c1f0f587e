"""A credential never names a code its code table lacks, without a foreign key per code (migration 0016):
code tables refuse deletes and key changes in the database, and the PostgreSQL import checks its staged
codes set-based in its own transaction. The concurrent cases run an import on one real connection while an
admin edits the code table on another."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator

import pytest
from asyncpg.exceptions import ForeignKeyViolationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.imports.committer import Committer
from app.imports.set_based import StreamedUpsert, TwoPassUpsert
from app.imports.staging import encode_line

# (table, key columns, a seeded key, another key for it, an edit that is no key change)
CODE_ROWS = [
    ("regions", ("code",), ("SC",), "ZZ", "name = name"),
    ("title_codes", ("code",), ("0502",), "0599", "name = name || ''"),
    ("skill_levels", ("level",), (3,), 103, "note = note"),
    ("card_systems", ("code",), ("sc-tianfu",), "sc-other", "issuing_until = issuing_until"),
    ("card_classes", ("system_code", "code"), ("sc-tianfu", "A"), "Z", "name = name"),
    ("permit_classes", ("code",), ("A",), "Z", "name = name"),
]


def where_key(key: tuple[str, ...]) -> str:
    return " AND ".join(f"{column} = :k{index}" for index, column in enumerate(key))


def key_values(values: tuple[object, ...]) -> dict[str, object]:
    return {f"k{index}": value for index, value in enumerate(values)}


@pytest.mark.parametrize(("table", "key", "values", "new_key", "edit"), CODE_ROWS)
async def test_a_code_table_refuses_deletes_and_key_changes(
    session: AsyncSession,
    table: str,
    key: tuple[str, ...],
    values: tuple[object, ...],
    new_key: object,
    edit: str,
) -> None:
    params = key_values(values)
    found = await session.scalar(text(f"SELECT count(*) FROM {table} WHERE {where_key(key)}"), params)  # noqa: S608
    assert found == 1, f"the seed no longer has {table} {values}"
    with pytest.raises(IntegrityError, match="never deleted"):
        async with session.begin_nested():
            await session.execute(text(f"DELETE FROM {table} WHERE {where_key(key)}"), params)  # noqa: S608
    with pytest.raises(IntegrityError, match="never deleted"):
        async with session.begin_nested():
            await session.execute(
                text(f"UPDATE {table} SET {key[-1]} = :new WHERE {where_key(key)}"),  # noqa: S608
                {**params, "new": new_key},
            )
    async with session.begin_nested():  # any other edit (a name, a window: how a code is retired) is fine
        await session.execute(text(f"UPDATE {table} SET {edit} WHERE {where_key(key)}"), params)  # noqa: S608


async def test_truncating_a_code_table_is_refused(session: AsyncSession) -> None:
    if (await session.connection()).dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE fires the row trigger")
    with pytest.raises(DBAPIError, match="never deleted"):
        async with session.begin_nested():
            await session.execute(text("TRUNCATE title_codes"))


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT OR REPLACE INTO regions (code, name, province_code) VALUES ('SC', '四川省', '51')",
        # Takes Chongqing's province code: the REPLACE deletes Chongqing to make room.
        "UPDATE OR REPLACE regions SET province_code = '50' WHERE code = 'SC'",
    ],
)
async def test_a_replace_cannot_delete_a_code(session: AsyncSession, statement: str) -> None:
    """SQLite deletes the row a REPLACE conflicts with; that delete fires the code table's trigger too."""
    if (await session.connection()).dialect.name != "sqlite":
        pytest.skip("OR REPLACE is SQLite's")
    with pytest.raises(IntegrityError, match="never deleted"):
        async with session.begin_nested():
            await session.execute(text(statement))


def staged_titles(run: str, rows: int, title_code: str) -> list[str]:
    """Clean title rows as scratch lines, as validation would write them (hash and cipher stand-ins)."""
    return [
        encode_line(
            (
                str(i + 2),
                hashlib.sha256(f"{run}-{i}".encode()).hexdigest(),
                "resident_id",
                "v1:stand-in",
                "5101**********123X",
                "张三",
                "1980-01-01",
                "M",
                "915100000000000001",
                "四川省某评审机构",
                "province",
                "title",
                "SC",
                f"{run}{i:06d}",
                "2022-06-01",
                *[None] * 2,
                title_code,
                "机械工程",
                "2022-03-15",
                "川人社职评〔2022〕12号",
                "评审委员会",
                *[None] * 11,
            )
        )
        for i in range(rows)
    ]


async def stored_with_code(engine: AsyncEngine, run: str) -> tuple[int, int]:
    """(rows of this run stored, of them whose title code is in the code table)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT count(*), count(t.code) FROM credentials c "
                    "LEFT JOIN title_codes t ON t.code = c.title_code WHERE c.number LIKE :run"
                ),
                {"run": f"{run}%"},
            )
        ).one()
    return int(row[0]), int(row[1])


@pytest.fixture
async def admin(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A second real connection: the admin editing code tables while the import runs."""
    if engine.dialect.name != "postgresql":
        pytest.skip("needs two real connections at once: PostgreSQL")
    async with engine.connect() as conn:
        # Blocked instead of refused would show as a time-out here, not as a hung test.
        await conn.execute(text("SET lock_timeout = '5s'"))
        await conn.commit()
        yield conn


def make_committer(path: str) -> Committer:
    return StreamedUpsert(100, job_id=None) if path == "streamed" else TwoPassUpsert(100)


@pytest.mark.parametrize("path", ["streamed", "two-pass"])
async def test_a_code_in_use_by_a_running_import_cannot_be_removed(
    engine: AsyncEngine, admin: AsyncConnection, path: str
) -> None:
    run = f"K{uuid.uuid4().hex[:8].upper()}"
    lines = staged_titles(run, 450, "0502")
    committer = make_committer(path)
    async with AsyncSession(engine) as session:
        await committer.begin(session)
        for start in range(0, len(lines), 150):
            block = lines[start : start + 150]
            await committer.write("".join(block).encode(), len(block))
            if start == 150:
                # Mid-import, rows naming 0502 already written in the import's transaction: the admin
                # deletes the code, renames its key, and edits it otherwise, each committed at once.
                if isinstance(committer, StreamedUpsert):
                    await committer.queue.join()  # the chunks so far are in the database
                for statement in (
                    "DELETE FROM title_codes WHERE code = '0502'",
                    "UPDATE title_codes SET code = '0599' WHERE code = '0502'",
                ):
                    with pytest.raises(IntegrityError, match="never deleted"):
                        await admin.execute(text(statement))
                    await admin.rollback()
                await admin.execute(text("UPDATE title_codes SET name = name || '' WHERE code = '0502'"))
                await admin.commit()  # not blocked: the import holds no lock on the code's row
        counts = await committer.finish()
        await session.commit()
    assert counts.inserted == 450
    assert await stored_with_code(engine, run) == (450, 450)


@pytest.mark.parametrize("path", ["streamed", "two-pass"])
async def test_an_import_naming_a_code_not_committed_stores_nothing(
    engine: AsyncEngine, admin: AsyncConnection, path: str
) -> None:
    """The admin adds a code and has not committed; an import naming it (past validation, as if validation
    had erred) fails in the database and stores nothing. The code is then rolled back: no row names it."""
    run = f"N{uuid.uuid4().hex[:8].upper()}"
    await admin.execute(
        text(
            "INSERT INTO title_codes (code, name, series_code, level) "
            "SELECT '0599', 'stand-in', series_code, level FROM title_codes WHERE code = '0502'"
        )
    )
    committer = make_committer(path)
    try:
        async with AsyncSession(engine) as session:
            await committer.begin(session)
            lines = staged_titles(run, 30, "0502") + staged_titles(f"{run}X", 1, "0599")
            await committer.write("".join(lines).encode(), len(lines))
            with pytest.raises(
                ForeignKeyViolationError, match="row 2 names a code that is not in its code table"
            ):
                await committer.finish()
            await session.rollback()
    finally:
        await admin.rollback()
    assert await stored_with_code(engine, run) == (0, 0)
