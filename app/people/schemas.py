"""The session API's bodies (contract: shared API.md, "People")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    otp: str | None = Field(default=None, max_length=16, description="The six-digit code of the TOTP factor")


class SessionOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    regions: list[str]
    method: str = Field(description="How the person signed in: password (with TOTP) or oidc")
    csrf_token: str = Field(description="Send as X-CSRF-Token on every request that changes state")


class SessionMethodsOut(BaseModel):
    methods: list[str] = Field(
        description="How a person may sign in: password (with TOTP), and oidc where single sign-on is set up"
    )


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64)
    display_name: str = Field(min_length=1, max_length=100)
    regions: list[str] = Field(min_length=1)
    roles: list[str] = Field(min_length=1)


class StaffRolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(min_length=1, max_length=10)
    regions: list[str] = Field(min_length=1, max_length=10)


class StaffOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    regions: list[str]
    source: str = Field(description="local (password and TOTP) or oidc (the identity provider)")
    totp_enrolled: bool
    state: str = Field(description="active or disabled")
    created_at: datetime


class StaffCreated(StaffOut):
    initial_password: str | None = Field(
        description="Shown once (only a slow hash is stored); the person enrols TOTP at the first sign-in"
    )


class StaffPage(BaseModel):
    items: list[StaffOut]
