"""Roles as data (the staff_roles table, seeded by the migration) and the API scopes they grant."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Transactions
from app.errors import invalid_field
from app.models import StaffRole


def split_list(text: str) -> tuple[str, ...]:
    """ "admin, clerk" → ("admin", "clerk"): trimmed, without empties or repeats, in the order given."""
    seen: dict[str, None] = {}
    for part in text.split(","):
        if part.strip():
            seen[part.strip()] = None
    return tuple(seen)


def join_list(values: Iterable[str]) -> str:
    return ",".join(values)


def check_roles(roles: Iterable[str], known: Mapping[str, frozenset[str]], field: str = "roles") -> None:
    unknown = sorted(set(roles) - set(known))
    if unknown:
        raise invalid_field(
            field,
            "staff.role_unknown",
            f"unknown role {', '.join(unknown)} (known: {', '.join(sorted(known))})",
        )


def check_regions(regions: Iterable[str], known: Iterable[str], field: str = "regions") -> None:
    unknown = sorted(set(regions) - set(known))
    if unknown:
        raise invalid_field(field, "staff.region_unknown", f"unknown region {', '.join(unknown)}")


class RoleBook:
    """The role table, re-read at most every `ttl` seconds (it changes only by a migration or by hand)."""

    def __init__(self, transactions: Transactions, ttl: float = 60.0) -> None:
        self.transactions, self.ttl = transactions, ttl
        self.roles: dict[str, frozenset[str]] = {}
        self.loaded_at = float("-inf")

    async def scopes_by_role(self) -> Mapping[str, frozenset[str]]:
        if time.monotonic() - self.loaded_at > self.ttl:
            async with self.transactions() as conn:
                rows = (await conn.execute(select(StaffRole.name, StaffRole.scopes))).all()
            self.roles = {row.name: frozenset(row.scopes.split()) for row in rows}
            self.loaded_at = time.monotonic()
        return self.roles

    async def scopes_of(self, roles: Iterable[str]) -> frozenset[str]:
        book = await self.scopes_by_role()
        return frozenset().union(*(book.get(role, frozenset()) for role in roles))


async def load_role_scopes(session: AsyncSession) -> dict[str, frozenset[str]]:
    rows = (await session.execute(select(StaffRole.name, StaffRole.scopes))).all()
    return {row.name: frozenset(row.scopes.split()) for row in rows}
