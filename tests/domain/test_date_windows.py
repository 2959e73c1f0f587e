"""The one definition of a date window (rules in force, card systems issuing): half-open, [start, until)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.domain.date_windows import check_window, in_window
from app.domain.errors import DomainError

START, UNTIL = date(2025, 1, 1), date(2025, 7, 1)


@pytest.mark.parametrize(
    ("day", "inside"),
    [
        (START - timedelta(days=1), False),
        (START, True),
        (UNTIL - timedelta(days=1), True),
        (UNTIL, False),  # the until date is the first day outside
        (UNTIL + timedelta(days=1), False),
    ],
)
def test_a_window_holds_its_start_and_not_its_until(day: date, inside: bool) -> None:
    assert in_window(day, START, UNTIL) is inside


def test_an_open_side_holds_every_day_on_that_side() -> None:
    assert in_window(date(1900, 1, 1), None, UNTIL)
    assert not in_window(UNTIL, None, UNTIL)
    assert in_window(date(2999, 1, 1), START, None)
    assert in_window(date(2999, 1, 1), None, None)


def test_two_windows_meeting_on_a_date_never_share_a_day() -> None:
    for offset in range(-2, 3):
        day = UNTIL + timedelta(days=offset)
        assert in_window(day, START, UNTIL) != in_window(day, UNTIL, None)


@pytest.mark.parametrize("until", [START, START - timedelta(days=1)])
def test_a_window_without_a_day_is_refused(until: date) -> None:
    with pytest.raises(DomainError) as refused:
        check_window(START, until, "rule.dates")
    assert refused.value.code == "rule.dates"
    assert "first day" in refused.value.message


def test_a_window_of_one_day_or_open_is_accepted() -> None:
    check_window(START, START + timedelta(days=1), "rule.dates")
    check_window(START, None, "rule.dates")
    check_window(None, UNTIL, "rule.dates")
