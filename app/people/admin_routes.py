"""Staff accounts for admins: `/v1/admin/staff` — list, create, disable, reset a factor, change roles.

What `huren staff …` does on the command line, over the API (and so from the console), each change an
audit event naming the admin who made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from fastapi import APIRouter, Depends, Request, status

from app.audit.request_session import SessionDep
from app.errors import Conflict
from app.models import StaffMember
from app.people.accounts import (
    Actor,
    create_staff,
    disable_staff,
    list_staff,
    normalise_username,
    regions_of,
    reset_factor,
    roles_of,
    set_staff_roles,
)
from app.people.roles import load_role_scopes
from app.people.schemas import StaffCreated, StaffIn, StaffOut, StaffPage, StaffRolesIn
from app.people.sessions import Clock
from app.problems import problem_responses
from app.routing import AuthFirstRoute
from app.security import Admin, Principal, require_scope
from app.services import services_of
from app.settings import Settings


class StaffAdminServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...


def services(request: Request) -> StaffAdminServices:
    view: StaffAdminServices = services_of(request)
    return view


router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/admin/staff",
    tags=["admin"],
    dependencies=[Depends(require_scope("admin"))],
    responses=problem_responses(401, 403),
)


def actor_of(principal: Principal) -> Actor:
    return Actor(client_id=principal.client_id, caller=principal)


def known_regions(settings: Settings) -> list[str]:
    return [*settings.regions, *settings.peers]


def present_staff(member: StaffMember) -> StaffOut:
    return StaffOut(
        username=member.username,
        display_name=member.display_name,
        roles=list(roles_of(member)),
        regions=list(regions_of(member)),
        source=member.source,
        totp_enrolled=member.totp_enrolled_at is not None,
        state="disabled" if member.disabled_at is not None else "active",
        created_at=member.created_at,
    )


def tidy(values: Sequence[str], *, upper: bool) -> list[str]:
    """As the command line reads them: trimmed, in one case, without repeats, in the order given."""
    seen: dict[str, None] = {}
    for value in values:
        if value.strip():
            seen[value.strip().upper() if upper else value.strip().lower()] = None
    return list(seen)


@router.get("", response_model=StaffPage, summary="Staff accounts with their roles, regions and state")
async def list_staff_accounts(session: SessionDep) -> StaffPage:
    return StaffPage(items=[present_staff(member) for member in await list_staff(session)])


@router.post(
    "",
    response_model=StaffCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create a person; the answer holds their one-time initial password",
    responses=problem_responses(409, 422),
)
async def create_staff_account(
    payload: StaffIn, request: Request, session: SessionDep, principal: Admin
) -> StaffCreated:
    member, password = await create_staff(
        session,
        username=payload.username,
        display_name=payload.display_name,
        regions=tidy(payload.regions, upper=True),
        roles=tidy(payload.roles, upper=False),
        known_regions=known_regions(services(request).settings),
        role_scopes=await load_role_scopes(session),
        actor=actor_of(principal),
    )
    return StaffCreated(**present_staff(member).model_dump(), initial_password=password)


@router.post(
    "/{username}/disable",
    response_model=StaffOut,
    summary="Disable a person; their sessions end at once",
    responses=problem_responses(404, 409),
)
async def disable_staff_account(
    username: str, request: Request, session: SessionDep, principal: Admin
) -> StaffOut:
    # Disabling oneself would lock the last admin out with one click; another admin can do it.
    if principal.person is not None and normalise_username(username) == principal.person.username:
        raise Conflict("an admin cannot disable their own account", code="staff.self_disable")
    member = await disable_staff(session, username, actor=actor_of(principal), now=services(request).clock())
    return present_staff(member)


@router.post(
    "/{username}/reset-factor",
    response_model=StaffOut,
    summary="Forget a person's TOTP factor: they enrol a new one at their next sign-in",
    responses=problem_responses(404),
)
async def reset_staff_factor(
    username: str, request: Request, session: SessionDep, principal: Admin
) -> StaffOut:
    member = await reset_factor(session, username, actor=actor_of(principal), now=services(request).clock())
    return present_staff(member)


@router.put(
    "/{username}/roles",
    response_model=StaffOut,
    summary="Set a person's roles and regions; their sessions end so the change applies at once",
    responses=problem_responses(404, 422),
)
async def set_staff_account_roles(
    username: str, payload: StaffRolesIn, request: Request, session: SessionDep, principal: Admin
) -> StaffOut:
    settings = services(request).settings
    member = await set_staff_roles(
        session,
        username,
        roles=tidy(payload.roles, upper=False),
        regions=tidy(payload.regions, upper=True),
        known_regions=known_regions(settings),
        role_scopes=await load_role_scopes(session),
        actor=actor_of(principal),
        now=services(request).clock(),
    )
    return present_staff(member)
