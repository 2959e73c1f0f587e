"""The verification look-ups: SQLAlchemy Core returning only the columns an answer shows.

Verification is the hot path. The registry API loads ORM entities; here one cached Core statement returns
plain rows (no identity map, no unit of work), on a connection without a transaction of its own
(see app.main). On PostgreSQL the single look-up goes one step further: the statement is compiled once and
run by asyncpg on the same pooled connection, skipping SQLAlchemy's per-execution work (greenlet hop, cursor
adaptation, result processing), which was a fifth of a verification's CPU. Both paths return `AnswerRow`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache
from typing import Any, NamedTuple, TypeAlias

from sqlalchemy import Dialect, Row, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import driver_connection
from app.models import CardClass, Credential, Holder, Organisation, SkillLevel, TitleCode
from app.registry.service import join_answer_tables

MAX_SUCCESSOR_HOPS = 20
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
AnyRow: TypeAlias = Row[*tuple[Any, ...]]


class AnswerRow(NamedTuple):
    """One credential as an answer shows it; the fields are select_candidates' columns, in order."""

    id: int
    kind: str
    region_code: str
    number: str
    status: str
    version: int
    issued_on: date
    valid_from: date | None
    valid_until: date | None
    title_code: str | None
    specialty: str | None
    occupation_code: str | None
    occupation_name: str | None
    skill_level: int | None
    work_type: str | None
    number_format: str | None
    card_system: str | None
    card_class: str | None
    entitlements: list[str] | None
    permit_class: str | None
    employer_name: str | None
    employer_usci: str | None
    holder_name: str
    holder_id_type: str
    holder_id_hash: str
    holder_id_masked: str
    issuer_name: str
    issuer_usci: str
    issuer_level: str
    issuer_region: str
    title_name: str | None
    title_level: str | None
    title_series: str | None
    level_name: str | None
    card_class_name: str | None


@cache
def select_candidates() -> AnySelect:
    return join_answer_tables(
        select(
            Credential.id,
            Credential.kind,
            Credential.region_code,
            Credential.number,
            Credential.status,
            Credential.version,
            Credential.issued_on,
            Credential.valid_from,
            Credential.valid_until,
            Credential.title_code,
            Credential.specialty,
            Credential.occupation_code,
            Credential.occupation_name,
            Credential.skill_level,
            Credential.work_type,
            Credential.number_format,
            Credential.card_system,
            Credential.card_class,
            Credential.entitlements,
            Credential.permit_class,
            Credential.employer_name,
            Credential.employer_usci,
            Holder.name.label("holder_name"),
            Holder.id_type.label("holder_id_type"),
            Holder.id_hash.label("holder_id_hash"),
            Holder.id_masked.label("holder_id_masked"),
            Organisation.name.label("issuer_name"),
            Organisation.usci.label("issuer_usci"),
            Organisation.level.label("issuer_level"),
            Organisation.region_code.label("issuer_region"),
            TitleCode.name.label("title_name"),
            TitleCode.level.label("title_level"),
            TitleCode.series_code.label("title_series"),
            SkillLevel.name.label("level_name"),
            CardClass.name.label("card_class_name"),
        )
    )


@cache
def select_one() -> AnySelect:
    """Built once with bound parameters, so SQLAlchemy computes its cache key once, not per request."""
    return select_candidates().where(
        Credential.kind == bindparam("kind"),
        Credential.region_code == bindparam("region"),
        Credential.number == bindparam("number"),
    )


@cache
def select_many() -> AnySelect:
    return select_candidates().where(
        Credential.kind == bindparam("kind"),
        Credential.region_code == bindparam("region"),
        Credential.number.in_(bindparam("numbers", expanding=True)),
    )


@cache
def select_successor() -> AnySelect:
    return (
        select(
            Credential.id,
            Credential.kind,
            Credential.region_code,
            Credential.number,
            Credential.version,
            Credential.status,
        )
        .where(Credential.supersedes_id == bindparam("previous"))
        .order_by(Credential.id.desc())
        .limit(1)
    )


@cache
def compiled_one(dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    """select_one as the driver's SQL text and the order of its parameters, compiled once per dialect."""
    compiled = select_one().compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup or ())


async def find_one(conn: AsyncConnection, kind: str, region: str, number: str) -> AnswerRow | None:
    params = {"kind": kind, "region": region, "number": number}
    if conn.dialect.driver == "asyncpg":
        sql, order = compiled_one(conn.dialect)
        # The connection is SQLAlchemy's, checked out of its pool (and, in tests, inside their transaction);
        # asyncpg keeps the prepared statement, and the JSONB codec SQLAlchemy set on it decodes entitlements.
        async with driver_connection(conn) as raw:
            record = await raw.fetchrow(sql, *(params[name] for name in order))
        return None if record is None else AnswerRow(*record)
    row = (await conn.execute(select_one(), params)).first()
    return None if row is None else AnswerRow(*row)


async def find_many(
    conn: AsyncConnection, references: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], AnswerRow]:
    """Every referenced credential that exists, in one query per (kind, region)."""
    groups: dict[tuple[str, str], set[str]] = {}
    for kind, region, number in references:
        groups.setdefault((kind, region), set()).add(number)
    found: dict[tuple[str, str, str], AnswerRow] = {}
    for (kind, region), numbers in groups.items():
        params = {"kind": kind, "region": region, "numbers": sorted(numbers)}
        for row in (await conn.execute(select_many(), params)).all():
            found[(row.kind, row.region_code, row.number)] = AnswerRow(*row)
    return found


async def find_successor(conn: AsyncConnection, credential_id: int) -> AnyRow | None:
    """The newest credential in the chain that supersedes (or took over) this one, following links forward."""
    latest: AnyRow | None = None
    previous = credential_id
    for _ in range(MAX_SUCCESSOR_HOPS):  # bounded: a corrupt cycle must not loop forever
        row = (await conn.execute(select_successor(), {"previous": previous})).first()
        if row is None:
            break
        latest, previous = row, row.id
    return latest
