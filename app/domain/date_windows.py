"""Date windows of the code tables: when a recognition rule applies, when a card system issues cards.

A window is half-open, `[start, until)`: it holds from `start` (included) up to the day before `until`. So
when an admin ends a rule on a change date D and starts its successor on D, exactly one of them applies on
every day, D included (`app/reference/data/README.md`, "Changing the data"). `None` leaves that side open.
This module is the one place that says so; the engine, the admin API, the registry and the import ask it.
"""

from __future__ import annotations

from datetime import date

from app.domain.errors import DomainError


def in_window(day: date, start: date | None, until: date | None) -> bool:
    """Whether `day` lies within `[start, until)`; a `None` side is open."""
    return (start is None or start <= day) and (until is None or day < until)


def describe_window(start: date | None, until: date | None) -> str:
    """The window as `[2020-07-13, 2025-01-01)` for a message; an open side is `…`."""
    return f"[{start.isoformat() if start else '…'}, {until.isoformat() if until else '…'})"


def check_window(start: date | None, until: date | None, code: str) -> None:
    """Refuse a window no day lies in: `until` on or before `start` (`until == start` leaves it empty)."""
    if start is not None and until is not None and until <= start:
        raise DomainError(
            code,
            f"the window [{start.isoformat()}, {until.isoformat()}) holds no day: the end date is the first "
            "day it no longer applies, so it must be after the start date",
        )
