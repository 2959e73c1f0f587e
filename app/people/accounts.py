"""Staff accounts: create, list, disable and reset a second factor. Each change is an audit event."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record_event
from app.errors import Conflict, NotFound, invalid_field
from app.models import StaffMember, StaffSession
from app.passwords import hash_secret
from app.people.roles import check_regions, check_roles, join_list, split_list
from app.security import Principal

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


def normalise_username(text: str) -> str:
    """NFKC and lower case: 'Wang.Li' and 'ｗａｎｇ.ｌｉ' are one account."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME.fullmatch(name):
        raise invalid_field(
            "username",
            "staff.username_format",
            "a user name is 2 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
        )
    return name


def new_initial_password() -> str:
    return secrets.token_urlsafe(12)  # 96 random bits, shown once


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a caller of the API, or the command line ("cli")."""

    client_id: str
    caller: Principal | None = None


async def find_staff(session: AsyncSession, username: str) -> StaffMember | None:
    found: StaffMember | None = await session.scalar(
        select(StaffMember).where(StaffMember.username == normalise_username(username))
    )
    return found


async def get_staff(session: AsyncSession, username: str) -> StaffMember:
    member = await find_staff(session, username)
    if member is None:
        raise NotFound(f"no staff member {normalise_username(username)!r}")
    return member


def check_grants(
    roles: Sequence[str],
    regions: Sequence[str],
    known_regions: Sequence[str],
    role_scopes: Mapping[str, frozenset[str]],
) -> None:
    """At least one role and one region, each of them known."""
    if not regions:
        raise invalid_field("regions", "staff.regions_empty", "a person acts for at least one region")
    if not roles:
        raise invalid_field("roles", "staff.roles_empty", "a person holds at least one role")
    check_regions(regions, known_regions)
    check_roles(roles, role_scopes)


async def create_staff(
    session: AsyncSession,
    *,
    username: str,
    display_name: str,
    regions: Sequence[str],
    roles: Sequence[str],
    known_regions: Sequence[str],
    role_scopes: Mapping[str, frozenset[str]],
    actor: Actor,
    source: str = "local",
) -> tuple[StaffMember, str | None]:
    """A new person and, for a local account, the one-time initial password (returned once, kept hashed)."""
    name = check_username(username)
    display = display_name.strip()
    if not 1 <= len(display) <= 100:
        raise invalid_field("display_name", "staff.display_name", "a display name is 1 to 100 characters")
    check_grants(roles, regions, known_regions, role_scopes)
    if await find_staff(session, name) is not None:
        raise Conflict(f"the user name {name!r} is taken", code="staff.username_taken")
    password = new_initial_password() if source == "local" else None
    member = StaffMember(
        username=name,
        display_name=display,
        regions=join_list(regions),
        roles=join_list(roles),
        source=source,
        password_hash=hash_secret(password) if password is not None else None,
    )
    session.add(member)
    await session.flush()
    record_event(
        session,
        "staff.created",
        client_id=actor.client_id,
        caller=actor.caller,
        object_ref=f"staff:{name}",
        details={"roles": list(roles), "regions": list(regions), "source": source},
    )
    return member, password


async def list_staff(session: AsyncSession) -> Sequence[StaffMember]:
    return (await session.scalars(select(StaffMember).order_by(StaffMember.username))).all()


async def end_sessions_of(session: AsyncSession, staff_id: int, now: datetime) -> None:
    await session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now)
    )


async def end_changed_sessions(
    session: AsyncSession,
    member: StaffMember,
    action: str,
    *,
    actor: Actor,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """After a change to a person their open sessions must not outlive: end them, and audit the change."""
    await end_sessions_of(session, member.id, now)
    await session.flush()
    record_event(
        session,
        action,
        client_id=actor.client_id,
        caller=actor.caller,
        object_ref=f"staff:{member.username}",
        details=details,
    )


async def disable_staff(session: AsyncSession, username: str, *, actor: Actor, now: datetime) -> StaffMember:
    """Disable a person and end every session of theirs at once (every worker reads sessions from here)."""
    member = await get_staff(session, username)
    if member.disabled_at is None:
        member.disabled_at = now
    await end_changed_sessions(session, member, "staff.disabled", actor=actor, now=now)
    return member


async def reset_factor(session: AsyncSession, username: str, *, actor: Actor, now: datetime) -> StaffMember:
    """Forget a person's TOTP factor (a lost phone): they enrol a new one at their next sign-in. Their
    sessions end, since whoever holds the old factor may hold one of them."""
    member = await get_staff(session, username)
    member.totp_secret_sealed = None
    member.totp_enrolled_at = None
    member.totp_last_step = None
    await end_changed_sessions(session, member, "staff.factor_reset", actor=actor, now=now)
    return member


async def set_staff_roles(
    session: AsyncSession,
    username: str,
    *,
    roles: Sequence[str],
    regions: Sequence[str],
    known_regions: Sequence[str],
    role_scopes: Mapping[str, frozenset[str]],
    actor: Actor,
    now: datetime,
) -> StaffMember:
    """Give a person new roles and regions. Their sessions end, so that nobody keeps acting with what was
    taken away (a session carries no roles of its own, but an open page would keep its old controls)."""
    member = await get_staff(session, username)
    check_grants(roles, regions, known_regions, role_scopes)
    before = {"roles": list(roles_of(member)), "regions": list(regions_of(member))}
    member.roles, member.regions = join_list(roles), join_list(regions)
    details = {"before": before, "roles": list(roles), "regions": list(regions)}
    await end_changed_sessions(session, member, "staff.roles_changed", actor=actor, now=now, details=details)
    return member


def roles_of(member: StaffMember) -> tuple[str, ...]:
    return split_list(member.roles)


def regions_of(member: StaffMember) -> tuple[str, ...]:
    return split_list(member.regions)
