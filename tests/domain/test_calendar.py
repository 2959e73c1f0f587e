"""The service's calendar: "today" is the date in China (UTC+8), so a credential lapses at midnight there."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.cards.offline import window_check
from app.cards.tokens import end_of_day
from app.domain.calendar import china_today
from app.domain.status import CredentialStatus, effective_status

LAST_DAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 12, 7, 15, 59, 59, tzinfo=UTC), date(2026, 12, 7)),
        (datetime(2026, 12, 7, 16, 0, tzinfo=UTC), date(2026, 12, 8)),  # 00:00 in Chongqing
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), date(2027, 1, 1)),
    ],
)
def test_today_is_the_date_in_china(utc: datetime, expected: date) -> None:
    assert china_today(utc) == expected


@pytest.mark.parametrize("minutes", [-1, 0, 1, 60 * 7])
def test_a_card_token_and_a_check_by_number_agree_on_the_last_day(minutes: int) -> None:
    """At any moment the token's expiry, its validity window and the registry's effective status say the
    same: valid through the last day in China, lapsed from the next midnight there (16:00 UTC)."""
    now = datetime(2026, 12, 7, 16, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    token_alive = now < end_of_day(LAST_DAY)
    window = window_check({"vu": LAST_DAY.isoformat()}, now)
    by_number = effective_status(CredentialStatus.ACTIVE, LAST_DAY, china_today(now))
    assert window.passed == token_alive
    assert (by_number == CredentialStatus.ACTIVE) == token_alive
    assert token_alive == (minutes < 0)
