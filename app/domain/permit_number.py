"""Foreign-talent work permits (外国人来华工作许可): the permit number and who may hold a permit.

What is known of the number (issue 17): 18 digits, one number per person for life (the holder keeps it when
the permit is renewed, changed or re-issued in another region). Its inner structure (whether positions encode
a region, a year or a check digit) is NOT known to us, so only the shape is checked; a checksum we cannot
confirm would refuse real permits. The one-number-per-person rule is a registry rule (app.registry.permits).
"""

from __future__ import annotations

import re
from typing import Final

from app.domain.errors import DomainError
from app.domain.identity import IdType, normalize_document_number

_SHAPE: Final = re.compile(r"[0-9]{18}")
# A permit is held by a foreign national: identified by passport or by foreign permanent-resident ID card.
PERMIT_HOLDER_ID_TYPES: Final = frozenset({IdType.PASSPORT, IdType.FOREIGN_PERMANENT_RESIDENT})


def validate_permit_number(raw: str) -> str:
    """The permit number normalised (NFKC, no spaces), or DomainError `permit.number_format`."""
    number = normalize_document_number(raw)
    if not _SHAPE.fullmatch(number):
        raise DomainError("permit.number_format", "A work permit number has 18 digits.")
    return number


def permit_number_well_formed(number: str) -> bool:
    """Whether a normalised number has the permit shape (a verification asks before it looks a number up)."""
    return _SHAPE.fullmatch(number) is not None


def check_permit_holder(id_type: IdType) -> None:
    """A permit's holder is identified by passport or foreign permanent-resident ID, not by a resident ID."""
    if id_type not in PERMIT_HOLDER_ID_TYPES:
        raise DomainError(
            "permit.holder_id_type",
            "A work permit holder is identified by passport or foreign_permanent_resident.",
        )
