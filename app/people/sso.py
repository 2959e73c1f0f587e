"""Single sign-on with the province's OpenID provider: `GET /auth/oidc/login` and `/auth/oidc/callback`.

The protocol (discovery, PKCE, state, nonce, the ID token's checks) is app.people.oidc's, through Authlib
and joserfc. Here: what the browser carries between the two legs (a random binding in a cookie, whose hash
keys the login's row: state, nonce and the PKCE verifier never leave the server), the person the identity
provider vouches for, and the session that follows. The provider is the source of a person's roles: they
are taken afresh from its claim at every sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Annotated, Protocol
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.request_session import SessionDep
from app.audit.service import record_event
from app.errors import NotFound
from app.models import OidcLogin, StaffMember
from app.people.accounts import USERNAME, normalise_username
from app.people.oidc import OidcError, OidcIdentity, OidcRelyingParty
from app.people.redirects import safe_next_path
from app.people.roles import join_list
from app.people.routes import open_session
from app.people.sessions import SESSION_CLIENT_ID, Clock
from app.problems import problem_responses
from app.routing import AuthFirstRoute
from app.services import services_of
from app.settings import Settings
from app.tracing import request_id_of

SECURE_BINDING_COOKIE = "__Host-huren_sso"
PLAIN_BINDING_COOKIE = "huren_sso"
# How long a person may spend at the provider's sign-in page.
LOGIN_TTL = timedelta(minutes=10)


class SsoServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def oidc(self) -> OidcRelyingParty | None: ...

    @property
    def clock(self) -> Clock: ...


def services(request: Request) -> SsoServices:
    view: SsoServices = services_of(request)
    return view


router = APIRouter(route_class=AuthFirstRoute, prefix="/auth/oidc", tags=["people"])


def relying_party(request: Request) -> OidcRelyingParty:
    party = services(request).oidc
    if party is None:
        raise NotFound("single sign-on is not configured on this node (HUREN_OIDC_ISSUER)", code="sso.off")
    return party


def binding_cookie(settings: Settings) -> str:
    return SECURE_BINDING_COOKIE if settings.public_url.startswith("https://") else PLAIN_BINDING_COOKIE


def binding_key(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()


@router.get(
    "/login",
    status_code=302,
    summary="Start single sign-on: a redirect to the OpenID provider",
    response_class=RedirectResponse,
    responses=problem_responses(404),
)
async def start_sso(
    request: Request,
    session: SessionDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    party = relying_party(request)
    view = services(request)
    now = view.clock()
    try:
        start = await party.start_login()
    except OidcError as exc:
        return refuse(safe_next_path(next_path), "sso.unavailable", exc.reason, view.settings)
    binding = secrets.token_urlsafe(32)
    await session.execute(delete(OidcLogin).where(OidcLogin.expires_at < now))  # abandoned ones
    session.add(
        OidcLogin(
            binding_hash=binding_key(binding),
            state=start.state,
            nonce=start.nonce,
            code_verifier=start.code_verifier,
            next_path=safe_next_path(next_path),
            expires_at=now + LOGIN_TTL,
        )
    )
    response = RedirectResponse(start.url, status_code=302)
    response.set_cookie(
        binding_cookie(view.settings),
        binding,
        path="/",
        httponly=True,
        samesite="lax",  # sent when the provider sends the browser back (a top-level GET)
        secure=view.settings.public_url.startswith("https://"),
    )
    return response


@router.get(
    "/callback",
    status_code=303,
    summary="Where the OpenID provider sends the browser back: a session, then the page asked for",
    response_class=RedirectResponse,
    responses=problem_responses(404),
)
async def finish_sso(
    request: Request,
    session: SessionDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    iss: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    party = relying_party(request)
    view = services(request)
    settings, now = view.settings, view.clock()
    binding = request.cookies.get(binding_cookie(settings))
    pending = await session.get(OidcLogin, binding_key(binding)) if binding else None
    if pending is not None:
        await session.delete(pending)  # a login is finished once, whatever the outcome
    if pending is None or pending.expires_at <= now:
        return refuse(
            "/counter", "sso.expired", "this sign-in was not started here or took too long", settings
        )
    landing = pending.next_path
    if error is not None or not code or not state:
        return refuse(landing, "sso.refused", "the identity provider did not sign the person in", settings)
    try:
        identity = await party.finish_login(code=code, state=state, expected=pending, issuer=iss)
    except OidcError as exc:
        record_failure(request, session, exc.reason)
        return refuse(landing, "sso.refused", exc.reason, settings)
    member = await adopt_person(session, identity, party.config.issuer, settings)
    if isinstance(member, str):
        record_failure(request, session, member)
        return refuse(landing, "sso.refused", member, settings)
    response = RedirectResponse(landing, status_code=303)
    response.delete_cookie(binding_cookie(settings), path="/")
    await open_session(request, response, session, member, "oidc", now)
    return response


def refuse(landing: str, code: str, reason: str, settings: Settings) -> Response:
    """Back to the page the person came from, which says why (in Chinese, by `code`). A redirect rather
    than a problem document: a person's browser is on this request, not a program."""
    separator = "&" if "?" in landing else "?"
    response = RedirectResponse(f"{landing}{separator}{urlencode({'sso_error': code})}", status_code=303)
    response.delete_cookie(binding_cookie(settings), path="/")
    return response


def record_failure(request: Request, session: AsyncSession, reason: str) -> None:
    record_event(
        session,
        "session.sign_in_failed",
        outcome="failure",
        client_id=SESSION_CLIENT_ID,
        object_ref="staff:(sso)",
        request_id=request_id_of(request),
        details={"method": "oidc", "reason": reason},
    )


async def adopt_person(
    session: AsyncSession, identity: OidcIdentity, issuer: str, settings: Settings
) -> StaffMember | str:
    """The staff record of the person the provider vouched for: created at their first sign-in, their
    name, roles and regions brought up to date at every one. A reason (str) when they may not sign in."""
    subject = f"{issuer}|{identity.subject}"
    regions = sorted(identity.regions & {*settings.regions, *settings.peers})
    if not regions:
        return "the person's groups grant no region of this federation"
    member = await session.scalar(select(StaffMember).where(StaffMember.oidc_subject == subject))
    if member is None:
        username = normalise_username(identity.username)
        if not USERNAME.fullmatch(username):
            username = f"sso.{hashlib.sha256(subject.encode()).hexdigest()[:12]}"
        taken = await session.scalar(select(StaffMember.id).where(StaffMember.username == username))
        if taken is not None:
            # Never merged silently with a local account of the same name: an admin links them by hand.
            return f"the user name {username} belongs to a local account"
        member = StaffMember(
            username=username, source="oidc", oidc_subject=subject, display_name="", roles=""
        )
        session.add(member)
        created = True
    else:
        created = False
        if member.disabled_at is not None:
            return "the person's account is disabled here"
    before = (member.roles, member.regions)
    member.display_name = identity.display_name[:100] or member.username
    member.roles, member.regions = join_list(sorted(identity.roles)), join_list(regions)
    await session.flush()
    if created or before != (member.roles, member.regions):
        record_event(
            session,
            "staff.created" if created else "staff.roles_changed",
            client_id=SESSION_CLIENT_ID,
            object_ref=f"staff:{member.username}",
            details={"roles": member.roles.split(","), "regions": regions, "source": "oidc"},
        )
    return member
