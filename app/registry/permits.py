"""Work permits: one number per person for life (外国人来华工作许可).

A permit number stays with its holder through renewals, changes and a move to the other region (an A-class
holder moving region gets a permit there under the SAME number). So a number belongs to one holder in every
region, and a holder has one number. The import checks the same rule set-based (app.imports.permit_numbers).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.models import Credential

NUMBER_OF_ANOTHER_HOLDER = "permit.number_other_holder"
HOLDER_HAS_ANOTHER_NUMBER = "permit.holder_other_number"


def number_of_another_holder() -> Conflict:
    return Conflict(
        "this work permit number is registered for another holder",
        code=NUMBER_OF_ANOTHER_HOLDER,
        errors=[
            {
                "field": "number",
                "code": NUMBER_OF_ANOTHER_HOLDER,
                "message": "a permit number belongs to one person for life",
            }
        ],
    )


def holder_has_another_number() -> Conflict:
    return Conflict(
        "this holder already has a work permit under another number",
        code=HOLDER_HAS_ANOTHER_NUMBER,
        errors=[
            {
                "field": "number",
                "code": HOLDER_HAS_ANOTHER_NUMBER,
                "message": "a person has one permit number for life",
            }
        ],
    )


# A cancelled permit (e.g. one registered under a mistyped number) or a superseded version no longer binds its
# number to its holder: otherwise a wrong entry could never be corrected. A revoked one still does.
BINDING_STATUS = Credential.status.not_in(("cancelled", "superseded"))


async def check_one_number_per_person(session: AsyncSession, holder_id: int, number: str) -> None:
    """Refuse a permit whose number is another holder's, or whose holder already has another number."""
    permits = select(Credential.id).where(Credential.kind == "permit", BINDING_STATUS).limit(1)
    other_holder = permits.where(Credential.number == number, Credential.holder_id != holder_id)
    if await session.scalar(other_holder) is not None:
        raise number_of_another_holder()
    other_number = permits.where(Credential.holder_id == holder_id, Credential.number != number)
    if await session.scalar(other_number) is not None:
        raise holder_has_another_number()
