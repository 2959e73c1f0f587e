"""The session API's bodies (contract: shared API.md, "People")."""

from __future__ import annotations

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
