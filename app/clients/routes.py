"""POST /oauth/token (client credentials) and the admin routes that manage clients."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Protocol
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Form, Request, Response, status

from app.audit.request_session import SessionDep
from app.audit.service import record_request_event
from app.clients import service
from app.clients.schemas import ClientCreated, ClientIn, ClientOut, ClientPage, TokenAnswer
from app.db import Transactions
from app.keys import KeyStore
from app.models import Client
from app.problems import problem_responses
from app.ratelimit import RateLimiter, client_address
from app.routing import AuthFirstRoute
from app.security import (
    ACCESS_TOKEN,
    Admin,
    Authenticator,
    encode_token,
    new_jti,
    require_scope,
    utc_timestamp,
)
from app.services import services_of
from app.settings import Settings


class ClientServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def rate_limiter(self) -> RateLimiter: ...

    @property
    def secret_cache(self) -> service.SecretCache: ...

    @property
    def keys(self) -> KeyStore: ...

    @property
    def authenticator(self) -> Authenticator: ...

    @property
    def transactions(self) -> Transactions: ...


def services(request: Request) -> ClientServices:
    view: ClientServices = services_of(request)
    return view


token_router = APIRouter(route_class=AuthFirstRoute, tags=["authentication"])
admin_router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/admin/clients",
    tags=["admin"],
    dependencies=[Depends(require_scope("admin"))],
    responses=problem_responses(404, 409),
)


def read_basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise service.invalid_client("malformed Basic credentials", basic=True) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise service.invalid_client("malformed Basic credentials", basic=True)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def pick_credentials(
    request: Request,
    client_id: str | None,
    client_secret: str | None,
    assertion_type: str | None,
    assertion: str | None,
) -> service.ClientCredentials:
    basic = read_basic(request)
    methods = [m for m, used in (("basic", basic), ("post", client_secret), ("jwt", assertion)) if used]
    if len(methods) > 1:
        raise service.OAuthError("invalid_request", "use exactly one client authentication method")
    if basic:
        if client_id is not None and client_id != basic[0]:
            raise service.OAuthError("invalid_request", "client_id differs from the Basic credentials")
        return service.ClientCredentials("client_secret_basic", basic[0], secret=basic[1])
    if assertion:
        if assertion_type != service.ASSERTION_TYPE:
            raise service.OAuthError("invalid_request", "unsupported client_assertion_type")
        return service.ClientCredentials("private_key_jwt", client_id, assertion=assertion)
    if client_secret:
        return service.ClientCredentials("client_secret_post", client_id, secret=client_secret)
    raise service.invalid_client("client authentication is required")


@token_router.post(
    "/oauth/token",
    response_model=TokenAnswer,
    responses=problem_responses(400, 401, 429),
    summary="OAuth 2.0 client credentials grant",
)
async def issue_token(
    request: Request,
    response: Response,
    session: SessionDep,
    grant_type: Annotated[str | None, Form(max_length=100)] = None,
    client_id: Annotated[str | None, Form(max_length=200)] = None,
    client_secret: Annotated[str | None, Form(max_length=500)] = None,
    client_assertion_type: Annotated[str | None, Form(max_length=200)] = None,
    client_assertion: Annotated[str | None, Form(max_length=8192)] = None,
    scope: Annotated[str | None, Form(max_length=500)] = None,
) -> TokenAnswer:
    settings = services(request).settings
    limiter: RateLimiter = services(request).rate_limiter
    await limiter.enforce(f"token-addr:{client_address(request)}", settings.token_rate_limit_per_minute * 4)
    credentials = pick_credentials(request, client_id, client_secret, client_assertion_type, client_assertion)
    if credentials.client_id:
        await limiter.enforce(f"token-client:{credentials.client_id}", settings.token_rate_limit_per_minute)
    if grant_type != "client_credentials":
        raise service.OAuthError("unsupported_grant_type", "only grant_type=client_credentials is supported")
    issuer = settings.public_url
    try:
        authenticated = await service.authenticate_client(
            session,
            credentials,
            cache=services(request).secret_cache,
            audiences=[f"{issuer}/oauth/token", issuer],
        )
    except service.OAuthError as exc:
        if credentials.method == "client_secret_basic" and exc.error == "invalid_client":
            raise service.invalid_client(exc.detail, basic=True) from None
        raise
    client = authenticated.client
    scopes = service.grant_scopes(client, scope)
    if authenticated.assertion_jti:
        await service.consume_jti(session, client.client_id, *authenticated.assertion_jti)
    now, lifetime = utc_timestamp(), settings.access_token_ttl_seconds
    claims = {
        "iss": issuer,
        "aud": issuer,
        "sub": client.client_id,
        "client_id": client.client_id,
        "region": client.region_code,
        "scope": " ".join(scopes),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": new_jti(),
    }
    token = encode_token(ACCESS_TOKEN, claims, services(request).keys)
    record_request_event(
        request,
        session,
        "token.issued",
        object_ref=f"jti:{claims['jti']}",
        details={"method": authenticated.method, "scope": scopes},
        client_id=client.client_id,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenAnswer(access_token=token, expires_in=lifetime, scope=" ".join(scopes))


def present_client(client: Client) -> ClientOut:
    return ClientOut(
        client_id=client.client_id,
        name=client.name,
        region=client.region_code,
        scopes=client.scopes.split(),
        org_name=client.org_name,
        org_usci=client.org_usci,
        rate_limit_per_minute=client.rate_limit_per_minute,
        private_key_jwt=bool(client.jwks),
        disabled=client.disabled_at is not None,
        created_at=client.created_at,
    )


@admin_router.get("", response_model=ClientPage)
async def list_clients(session: SessionDep) -> ClientPage:
    return ClientPage(items=[present_client(c) for c in await service.list_clients(session)])


@admin_router.post("", response_model=ClientCreated, status_code=status.HTTP_201_CREATED)
async def create_client(
    payload: ClientIn, request: Request, session: SessionDep, principal: Admin
) -> ClientCreated:
    client, secret = await service.create_client(session, **payload.model_dump())
    record_request_event(request, session, "client.created", object_ref=f"client:{client.client_id}")
    return ClientCreated(**present_client(client).model_dump(), client_secret=secret)


@admin_router.post("/{client_id}/disable", response_model=ClientOut)
async def disable_client(
    client_id: str, request: Request, session: SessionDep, principal: Admin
) -> ClientOut:
    client = await service.disable_client(session, client_id)
    services(request).authenticator.forget_client(client_id)
    record_request_event(request, session, "client.disabled", object_ref=f"client:{client_id}")
    return present_client(client)


@token_router.get("/.well-known/jwks.json", summary="The node's public signing keys, current and past")
async def jwks(request: Request, response: Response) -> dict[str, object]:
    keys = services(request).keys
    await keys.refresh_if_stale(services(request).transactions)
    response.headers["Cache-Control"] = "public, max-age=300"
    return dict(keys.jwks)
