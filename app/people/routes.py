"""Staff sign-in and sign-out: `POST/GET/DELETE /v1/session` (a local password and TOTP code)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.request_session import SessionDep
from app.audit.service import record_event
from app.errors import Forbidden, Unauthorized
from app.models import StaffMember
from app.people.accounts import regions_of, roles_of
from app.people.schemas import SessionIn, SessionMethodsOut, SessionOut
from app.people.sessions import (
    SESSION_CLIENT_ID,
    Clock,
    SessionTimes,
    StaffSessions,
    end_session,
    session_key,
    start_session,
)
from app.people.signin import SignInPolicy, sign_in_with_password
from app.privacy import PersonalDataVault
from app.problems import problem_for, problem_responses
from app.ratelimit import RateLimiter, client_address
from app.routing import AuthFirstRoute
from app.security import Person, Principal, authenticate
from app.services import services_of
from app.settings import Settings
from app.tracing import request_id_of


class PeopleServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def vault(self) -> PersonalDataVault: ...

    @property
    def rate_limiter(self) -> RateLimiter: ...

    @property
    def staff_sessions(self) -> StaffSessions: ...

    @property
    def clock(self) -> Clock: ...


def services(request: Request) -> PeopleServices:
    view: PeopleServices = services_of(request)
    return view


router = APIRouter(route_class=AuthFirstRoute, prefix="/v1/session", tags=["people"])


def session_times(settings: Settings) -> SessionTimes:
    return SessionTimes(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )


def sign_in_policy(settings: Settings) -> SignInPolicy:
    return SignInPolicy(
        lock_after=settings.sign_in_lock_after,
        lock_for=timedelta(minutes=settings.sign_in_lock_minutes),
        totp_roles=frozenset(settings.totp_roles),
        client_id=SESSION_CLIENT_ID,
    )


def check_origin(request: Request, settings: Settings) -> None:
    """A sign-in form posted from another site would sign the browser in as someone else (login CSRF):
    a browser names the page's origin, and it must be this node's."""
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") != own_origin(settings.public_url):
        raise Forbidden("sign-in is accepted from this node's own pages only", code="session.origin")


def own_origin(public_url: str) -> str:
    scheme, _, rest = public_url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def session_answer(person: Person) -> SessionOut:
    """The session as `POST` and `GET /v1/session` both answer it."""
    return SessionOut(
        username=person.username,
        display_name=person.display_name,
        roles=list(person.roles),
        regions=list(person.regions),
        method=person.method,
        csrf_token=person.csrf_token,
    )


async def open_session(
    request: Request,
    response: Response,
    session: AsyncSession,
    member: StaffMember,
    method: str,
    now: datetime,
) -> SessionOut:
    """Sign `member` in: a new session (ending the one the browser brought, if any), its cookie, an event."""
    view = services(request)
    settings, resolver = view.settings, view.staff_sessions
    old = request.cookies.get(resolver.cookie_name)
    if old:
        await end_session(session, session_key(old), now)
    opened = await start_session(session, member, method=method, now=now, times=session_times(settings))
    set_session_cookie(
        response, resolver.cookie_name, opened.token, secure=settings.public_url.startswith("https")
    )
    person = Person(
        username=member.username,
        display_name=member.display_name,
        method=method,
        roles=roles_of(member),
        regions=regions_of(member),
        session_key=opened.record.id_hash,
        csrf_token=opened.csrf_token,
    )
    record_event(
        session,
        "session.signed_in",
        client_id=SESSION_CLIENT_ID,
        object_ref=f"staff:{member.username}",
        request_id=request_id_of(request),
        details={"method": method},
        person=person,
    )
    return session_answer(person)


def set_session_cookie(response: Response, name: str, token: str, *, secure: bool) -> None:
    # No Max-Age: the browser forgets it when closed; the server ends it after the idle or absolute time.
    # SameSite=Lax: sent when the identity provider sends the browser back, never on a cross-site POST.
    response.set_cookie(name, token, path="/", httponly=True, samesite="lax", secure=secure)


@router.post(
    "",
    response_model=SessionOut,
    summary="Sign in with a user name, password and TOTP code",
    responses=problem_responses(401, 403, 429),
)
async def sign_in(
    request: Request, response: Response, body: SessionIn, session: SessionDep
) -> Response | SessionOut:
    view = services(request)
    settings = view.settings
    check_origin(request, settings)
    # A budget per source address, as for the token endpoint: the per-name lock stops guessing one
    # person's password, this stops trying one password on many names.
    await view.rate_limiter.enforce(
        f"addr:{client_address(request)}:session", settings.token_rate_limit_per_minute
    )
    now = view.clock()
    outcome = await sign_in_with_password(
        session,
        view.vault,
        sign_in_policy(settings),
        username=body.username,
        password=body.password,
        otp=body.otp,
        now=now,
    )
    if outcome.refusal is not None:
        return problem_for(outcome.refusal, request.url.path)  # returned: the failure count commits
    assert outcome.member is not None
    return await open_session(request, response, session, outcome.member, "password", now)


@router.get(
    "/methods", response_model=SessionMethodsOut, summary="The ways to sign in on this node (no token)"
)
async def list_sign_in_methods(request: Request) -> SessionMethodsOut:
    # Open, like the sign-in itself: a sign-in page asks before anyone is signed in, to offer the single
    # sign-on link only where a provider is configured.
    methods = ["password"]
    if services(request).settings.oidc_enabled:
        methods.append("oidc")
    return SessionMethodsOut(methods=methods)


async def person_of(principal: Annotated[Principal, Depends(authenticate)]) -> Person:
    if principal.person is None:
        raise Unauthorized(
            "no staff session: this request was made with a client's token", code="session.none"
        )
    return principal.person


@router.get("", response_model=SessionOut, summary="The signed-in person", responses=problem_responses(401))
async def current_session(person: Annotated[Person, Depends(person_of)]) -> SessionOut:
    return session_answer(person)


@router.delete(
    "", status_code=204, summary="Sign out (needs X-CSRF-Token)", responses=problem_responses(401, 403)
)
async def sign_out(
    request: Request, person: Annotated[Person, Depends(person_of)], session: SessionDep
) -> Response:
    view = services(request)
    await end_session(session, person.session_key, view.clock())
    record_event(
        session,
        "session.signed_out",
        client_id=SESSION_CLIENT_ID,
        object_ref=f"staff:{person.username}",
        request_id=request_id_of(request),
        caller=request.state.principal,
    )
    response = Response(status_code=204)
    response.delete_cookie(
        view.staff_sessions.cookie_name,
        path="/",
        httponly=True,
        samesite="lax",
        secure=view.settings.public_url.startswith("https"),
    )
    return response
