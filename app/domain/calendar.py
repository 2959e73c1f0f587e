"""The service's calendar. The dates on certificates, cards and rules are dates in China (UTC+8, no daylight
saving time), so "today" (has a credential lapsed, does a date lie in the future, which rule is in force) is
the date in China, whatever the server's clock zone. Between 16:00 and 24:00 UTC that is already tomorrow's
UTC date: a card valid until 7 December has lapsed at 00:00 on 8 December in Chongqing, not eight hours later.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "UTC+08:00")


def china_today(now: datetime | None = None) -> date:
    """The date in China at `now` (an aware datetime; the current time when omitted)."""
    return (now or datetime.now(UTC)).astimezone(CHINA).date()
