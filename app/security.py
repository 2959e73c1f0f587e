"""Who is calling and what they may do: bearer-token authentication and one scope dependency per route.

For now the only credential is the static admin token from settings, which carries every scope; the OAuth 2.0
token endpoint replaces it behind the same `require_scope` dependency.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.errors import Forbidden, Unauthorized

ALL_SCOPES = frozenset({"verify", "registry:read", "registry:write", "cards:issue", "admin", "federation"})

bearer_scheme = HTTPBearer(auto_error=False, description="An access token (for now: the static admin token)")


@dataclass(frozen=True)
class Principal:
    client_id: str
    region: str | None
    scopes: frozenset[str]


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    expected = request.app.state.settings.admin_token.get_secret_value().encode()
    # Constant-time comparison: the token is a shared secret.
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise Unauthorized("the bearer token is not valid")
    return Principal(client_id="admin", region=None, scopes=ALL_SCOPES)


def require_scope(scope: str) -> Callable[..., Awaitable[Principal]]:
    if scope not in ALL_SCOPES:
        raise ValueError(f"unknown scope {scope}")

    async def check_scope(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if scope not in principal.scopes:
            raise Forbidden(f"this route needs the scope {scope}", required_scope=scope)
        return principal

    return check_scope


RegistryReader = Annotated[Principal, Depends(require_scope("registry:read"))]
RegistryWriter = Annotated[Principal, Depends(require_scope("registry:write"))]
