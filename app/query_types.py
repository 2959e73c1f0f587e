"""Dates and times in query strings, written out: pydantic would also read a bare number as Unix time
(`?issued_to=0` as 1970-01-01), which no caller means and the OpenAPI document does not say."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator


def require_iso_time(value: object) -> object:
    # Years from 1900 to 9999 only: an offset at the calendar's edges overflows on the way to UTC.
    if isinstance(value, str) and not re.match(r"(19|[2-9]\d)\d{2}-\d{2}-\d{2}T", value):
        raise ValueError("give the time as ISO 8601 with its offset, e.g. 2026-12-07T09:00:00+08:00")
    return value


def require_iso_date(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("give the date as YYYY-MM-DD, e.g. 2026-12-07")
    return value


IsoTime = Annotated[AwareDatetime, BeforeValidator(require_iso_time)]
IsoDate = Annotated[date, BeforeValidator(require_iso_date)]
