"""The verification look-ups: SQLAlchemy Core returning only the columns an answer shows.

Verification is the hot path. The registry API loads ORM entities; here one cached Core statement returns
plain rows (no identity map, no unit of work), on a connection without a transaction of its own
(see app.main).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, TypeAlias

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import CardClass, Credential, Holder, Organisation, SkillLevel, TitleCode
from app.registry.service import join_answer_tables

MAX_SUCCESSOR_HOPS = 20
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
AnyRow: TypeAlias = Row[*tuple[Any, ...]]


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
            Credential.card_system,
            Credential.card_class,
            Credential.entitlements,
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


async def find_one(conn: AsyncConnection, kind: str, region: str, number: str) -> AnyRow | None:
    result = await conn.execute(select_one(), {"kind": kind, "region": region, "number": number})
    return result.first()


async def find_many(
    conn: AsyncConnection, references: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], AnyRow]:
    """Every referenced credential that exists, in one query per (kind, region)."""
    groups: dict[tuple[str, str], set[str]] = {}
    for kind, region, number in references:
        groups.setdefault((kind, region), set()).add(number)
    found: dict[tuple[str, str, str], AnyRow] = {}
    for (kind, region), numbers in groups.items():
        params = {"kind": kind, "region": region, "numbers": sorted(numbers)}
        for row in (await conn.execute(select_many(), params)).all():
            found[(row.kind, row.region_code, row.number)] = row
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


def references_of(items: Sequence[Any]) -> list[tuple[str, str, str]]:
    return [(item.kind, item.region, item.number) for item in items]
