"""The skill-certificate numbering formats, read once from the shipped data and built into validators.

They are data (skill_number_formats.json, described in data/README.md) but not a database table: a number is
checked inside the request and import models, before any session exists, millions of times per import. An
edit to the file takes effect at the next start.
"""

from __future__ import annotations

import copy
from typing import Any

from app.domain.skill_number import NumberFormat, build_number_formats
from app.reference.seed import read_data

FORMATS_FILE = "skill_number_formats.json"

# Read once: the reference API shows the definitions the validators below were built from, not a later edit.
_DEFINITIONS: tuple[dict[str, Any], ...] = tuple(read_data(FORMATS_FILE))

SKILL_NUMBER_FORMATS: tuple[NumberFormat, ...] = build_number_formats(_DEFINITIONS)


def read_number_format_definitions() -> list[dict[str, Any]]:
    """The definitions in force, in the order numbers are tried (copies: a caller may not change them)."""
    return copy.deepcopy(list(_DEFINITIONS))
