"""Dates and times in query strings, written out: pydantic would also read a bare number as Unix time
(`?issued_to=0` as 1970-01-01), which no caller means and the OpenAPI document does not say."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator


def require_iso_time(value: object) -> object:
    if isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}T", value):
        raise ValueError("give the time as ISO 8601 with its offset, e.g. 2026-12-07T09:00:00+08:00")
    return value


def in_utc(value: datetime) -> datetime:
    """The time in UTC. At the calendar's edges (0001-01-01 with a positive offset, 9999-12-31 with a
    negative one) UTC falls outside what a datetime holds: as a bound of a range, that is the first or the
    last instant there is."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC) if value.year == 1 else datetime.max.replace(tzinfo=UTC)


def require_iso_date(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("give the date as YYYY-MM-DD, e.g. 2026-12-07")
    return value


IsoTime = Annotated[AwareDatetime, BeforeValidator(require_iso_time), AfterValidator(in_utc)]
IsoDate = Annotated[date, BeforeValidator(require_iso_date)]
