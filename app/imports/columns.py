"""The columns of an import file: the API contract, one tuple per kind, in the template's order."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from app.catalogue.entries import COLUMNS as CATALOGUE_COLUMNS
from app.catalogue.entries import REQUIRED_COLUMNS as CATALOGUE_REQUIRED

_COMMON_COLUMNS = (
    "region",
    "number",
    "holder_name",
    "holder_id_type",
    "holder_id_number",
    "issuer_name",
    "issuer_usci",
    "issuer_level",
    "issued_on",
    "valid_from",
    "valid_until",
)
_COMMON_REQUIRED = (
    "region",
    "number",
    "holder_name",
    "holder_id_number",
    "issuer_name",
    "issuer_usci",
    "issued_on",
)

# The API contract: file columns are the request fields with holder and issuer flattened, in template order.
COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "title": (*_COMMON_COLUMNS, "title_code", "specialty", "obtained_on", "approval_no", "review_body"),
        "skill": (*_COMMON_COLUMNS, "occupation_code", "occupation_name", "level", "work_type"),
        "card": (*_COMMON_COLUMNS, "card_system", "card_class", "entitlements"),
        "permit": (*_COMMON_COLUMNS, "permit_class", "employer_name", "employer_usci"),
        # Not a credential: the shortage catalogue's rows (app.imports.catalogue_pass).
        "catalogue": CATALOGUE_COLUMNS,
    }
)
REQUIRED_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "title": (*_COMMON_REQUIRED, "title_code", "obtained_on"),
        "skill": (*_COMMON_REQUIRED, "occupation_code", "occupation_name", "level"),
        "card": (*_COMMON_REQUIRED, "card_system", "card_class"),
        "permit": (*_COMMON_REQUIRED, "permit_class", "employer_name", "employer_usci"),
        "catalogue": CATALOGUE_REQUIRED,
    }
)
LIST_SEPARATOR: Final = ";"
LIST_COLUMNS: frozenset[str] = frozenset({"entitlements"})


def required_columns(kind: str, default_region: str | None = None) -> tuple[str, ...]:
    """Return the columns a file of this kind must have; region may be left out when a default is given."""
    required = REQUIRED_COLUMNS[kind]
    if default_region is None:
        return required
    return tuple(column for column in required if column != "region")
