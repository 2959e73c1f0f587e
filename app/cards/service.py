"""Issuing card tokens: find the card, give it its status-list index once, sign the token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.cards.status_list import MIN_ENTRIES
from app.cards.tokens import CardFacts, StatusRef, card_claims, status_list_url
from app.domain.calendar import china_today
from app.domain.masking import mask_name
from app.domain.status import CredentialStatus, effective_status
from app.errors import Conflict, NotFound
from app.keys import KeyStore
from app.models import Credential, Holder, StatusList, StatusListEntry
from app.security import CARD_TOKEN, encode_token, new_jti

PROBES_PER_ROUND = 16


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    credential_id: int


async def find_card(session: AsyncSession, region: str, number: str) -> tuple[Credential, Holder]:
    row = (
        await session.execute(
            select(Credential, Holder)
            .join(Holder, Holder.id == Credential.holder_id)
            .where(Credential.kind == "card", Credential.region_code == region, Credential.number == number)
        )
    ).first()
    if row is None:
        raise NotFound("no card with this region and number")
    return row[0], row[1]


async def find_status_index(session: AsyncSession, credential_id: int) -> int | None:
    return await session.scalar(
        select(StatusListEntry.list_index).where(StatusListEntry.credential_id == credential_id)
    )


async def lock_status_list(session: AsyncSession, region: str) -> StatusList:
    """The region's list row, locked: allocations in one region happen one at a time."""
    found = await session.scalar(select(StatusList).where(StatusList.region_code == region).with_for_update())
    if found is None:
        try:
            async with session.begin_nested():  # a concurrent first token in this region may create it too
                session.add(StatusList(region_code=region, capacity=MIN_ENTRIES, revision=0))
        except IntegrityError:
            pass
        found = await session.scalar(
            select(StatusList).where(StatusList.region_code == region).with_for_update()
        )
        assert found is not None
    return found


async def ensure_status_index(session: AsyncSession, credential_id: int, region: str) -> int:
    """The card's index, drawn at random among free ones the first time it is needed, never reused.

    The list doubles before it is half full, so a random draw hits a free index at least half the time and
    every list keeps an anonymity set of at least twice its cards.
    """
    existing = await find_status_index(session, credential_id)
    if existing is not None:
        return existing
    status_list = await lock_status_list(session, region)
    # Again under the lock: a concurrent request (a double click) may have given the card its index meanwhile.
    existing = await find_status_index(session, credential_id)
    if existing is not None:
        return existing
    used = await session.scalar(
        select(func.count()).select_from(StatusListEntry).where(StatusListEntry.region_code == region)
    )
    if (used or 0) + 1 > status_list.capacity // 2:
        status_list.capacity *= 2
        # A longer list: copies of the shorter one (here and at peers) must be rebuilt for new indexes.
        status_list.revision += 1
    rng = secrets.SystemRandom()
    while True:
        candidates = [rng.randrange(status_list.capacity) for _ in range(PROBES_PER_ROUND)]
        taken = set(
            (
                await session.scalars(
                    select(StatusListEntry.list_index).where(
                        StatusListEntry.region_code == region, StatusListEntry.list_index.in_(candidates)
                    )
                )
            ).all()
        )
        free = [index for index in candidates if index not in taken]
        if free:
            session.add(StatusListEntry(credential_id=credential_id, region_code=region, list_index=free[0]))
            await session.flush()
            return free[0]


async def issue_card_token(
    session: AsyncSession,
    keys: KeyStore,
    *,
    region: str,
    number: str,
    issuer: str,
    max_ttl: timedelta,
) -> IssuedToken:
    card, holder = await find_card(session, region, number)
    today = china_today()
    shown = effective_status(CredentialStatus(card.status), card.valid_until, today)
    if shown != CredentialStatus.ACTIVE:
        raise Conflict(f"a card that is {shown.value} gets no token", code="card.not_active")
    # The card_fields constraint guarantees both for cards.
    assert card.card_system is not None
    assert card.card_class is not None
    index = await ensure_status_index(session, card.id, region)
    facts = CardFacts(
        number=card.number,
        region=region,
        card_system=card.card_system,
        card_class=card.card_class,
        name_masked=mask_name(holder.name),
        valid_from=card.valid_from,
        valid_until=card.valid_until,
    )
    refs = StatusRef(
        index, status_list_url(issuer, region, "revocation"), status_list_url(issuer, region, "suspension")
    )
    now = datetime.now(UTC)
    claims = card_claims(facts, refs, issuer=issuer, issued_at=now, max_ttl=max_ttl, jti=new_jti())
    token = encode_token(CARD_TOKEN, claims, keys)
    return IssuedToken(token, datetime.fromtimestamp(claims["exp"], UTC), card.id)


async def bump_revision(session: AsyncSession, region: str) -> None:
    """A card's status changed: the region's lists must be rebuilt before they are served again."""
    await session.execute(
        update(StatusList).where(StatusList.region_code == region).values(revision=StatusList.revision + 1)
    )
