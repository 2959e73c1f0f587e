"""Card tokens: the compact signed JWT a talent card's QR code carries.

Short claim names keep the token well inside one QR code (DOMAIN.md: about 1,200 characters). The holder's
name is in it masked only; the ID number not at all. The status-list reference (index plus the two list URLs)
lets a counter check revocation and suspension offline, from lists it fetched earlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.domain.calendar import CHINA

CARD_AUDIENCE = "urn:huren:card"


@dataclass(frozen=True)
class CardFacts:
    number: str
    region: str
    card_system: str
    card_class: str
    name_masked: str
    valid_from: date | None
    valid_until: date | None


@dataclass(frozen=True)
class StatusRef:
    index: int
    revocation_url: str
    suspension_url: str


def status_list_url(public_url: str, region: str, purpose: str) -> str:
    return f"{public_url.rstrip('/')}/v1/status-lists/{region}/{purpose}"


def end_of_day(day: date) -> datetime:
    # Valid until a date means through that whole day in China (app.domain.calendar), wherever the counter is.
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=CHINA).astimezone(UTC)


def card_claims(
    card: CardFacts, status: StatusRef, *, issuer: str, issued_at: datetime, max_ttl: timedelta, jti: str
) -> dict[str, Any]:
    """The token lives as long as the card's validity (or max_ttl without an end date), never longer."""
    expires = issued_at + max_ttl
    if card.valid_until is not None:
        expires = min(expires, end_of_day(card.valid_until))
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": CARD_AUDIENCE,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": jti,
        "cn": card.number,
        "rg": card.region,
        "cs": card.card_system,
        "cc": card.card_class,
        "nm": card.name_masked,
        "st": {"i": status.index, "r": status.revocation_url, "s": status.suspension_url},
    }
    if card.valid_from is not None:
        claims["vf"] = card.valid_from.isoformat()
    if card.valid_until is not None:
        claims["vu"] = card.valid_until.isoformat()
    return claims
