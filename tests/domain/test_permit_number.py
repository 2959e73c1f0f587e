"""The work permit number's shape and who may hold a permit (app/domain/permit_number.py)."""

from __future__ import annotations

import pytest

from app.domain.errors import DomainError
from app.domain.identity import IdType
from app.domain.permit_number import check_permit_holder, permit_number_well_formed, validate_permit_number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123456789012345678", "123456789012345678"),
        (" 1234 5678 9012 345678 ", "123456789012345678"),
        ("１２３４５６７８９０１２３４５６７８", "123456789012345678"),  # full-width digits
    ],
)
def test_eighteen_digits_are_a_permit_number(raw: str, expected: str) -> None:
    assert validate_permit_number(raw) == expected


@pytest.mark.parametrize(
    "raw", ["12345678901234567", "1234567890123456789", "12345678901234567X", "1234-5678-9012-3456", ""]
)
def test_anything_else_is_refused_with_its_own_code(raw: str) -> None:
    with pytest.raises(DomainError) as refused:
        validate_permit_number(raw)
    assert refused.value.code == "permit.number_format"


@pytest.mark.parametrize("id_type", [IdType.PASSPORT, IdType.FOREIGN_PERMANENT_RESIDENT])
def test_a_foreign_national_holds_a_permit(id_type: IdType) -> None:
    check_permit_holder(id_type)


@pytest.mark.parametrize("id_type", [IdType.RESIDENT_ID, IdType.HMT_PERMIT])
def test_a_resident_id_or_hmt_permit_cannot_hold_one(id_type: IdType) -> None:
    with pytest.raises(DomainError) as refused:
        check_permit_holder(id_type)
    assert refused.value.code == "permit.holder_id_type"


def test_the_shape_check_of_a_normalised_number() -> None:
    assert permit_number_well_formed("123456789012345678")
    assert not permit_number_well_formed("12345678901234567")
    assert not permit_number_well_formed("12345678901234567X")
