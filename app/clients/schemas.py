"""Contracts of the token endpoint and the admin routes for clients."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.registry.schemas import USCI_PATTERN, canonical_shape

# Space-separated scope names (app/security.py ALL_SCOPES; tests/clients check the two agree).
SCOPE_NAMES = "verify|registry:read|registry:write|cards:issue|admin|audit:read|federation|metrics"
SCOPES_PATTERN = rf"^ *({SCOPE_NAMES})( +({SCOPE_NAMES}))* *$"


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 (the OAuth token type, not a secret)
    expires_in: int
    scope: str


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    scopes: Annotated[str, Field(max_length=300, pattern=SCOPES_PATTERN, examples=["verify registry:read"])]
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    org_name: Annotated[str, Field(max_length=200)] | None = None
    org_usci: Annotated[str, canonical_shape(USCI_PATTERN, max_length=40)] | None = None
    jwks: dict[str, Any] | None = Field(default=None, description="public keys for private_key_jwt")


class ClientOut(BaseModel):
    client_id: str
    name: str
    region: str
    scopes: list[str]
    org_name: str | None
    org_usci: str | None
    rate_limit_per_minute: int | None
    private_key_jwt: bool
    disabled: bool
    created_at: datetime


class ClientCreated(ClientOut):
    client_secret: str = Field(description="shown once; only a slow hash is stored")


class ClientPage(BaseModel):
    items: list[ClientOut]
