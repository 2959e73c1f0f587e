"""What the catalogue answers: its entries in the public listing, and the shortage posts in verification."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Urgency = Literal["severe", "moderate", "mild"]


class Shortage(BaseModel):
    """A catalogue post a verified credential fills (API.md: `shortage` in verification answers)."""

    model_config = ConfigDict(frozen=True)

    edition: str
    post: str
    urgency: Urgency


class CatalogueEntryOut(BaseModel):
    id: int
    edition: str
    cluster: str
    post: str
    title_series: str | None = Field(description="the title series (2-digit code) the post asks for")
    occupation_code: str | None = Field(description="or the skill occupation code it asks for")
    urgency: Urgency
    urgency_zh: str = Field(description="重度, 中度 or 轻度")
    region: str | None = Field(description="the region whose employers list the post; null: both regions")


class CataloguePage(BaseModel):
    items: list[CatalogueEntryOut]
    next_cursor: str | None
