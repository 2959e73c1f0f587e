"""The registry models' declared bounds and patterns, per file column, read from the models themselves.

app/registry/schemas.py is the one source of the rules a row must meet. The import's fast checks
(app.imports.fast_checks) take every length bound and pattern from here instead of repeating the numbers, so
a bound changed in a model changes the fast path with it. What cannot be read off a schema (normalisation,
the domain checks, the cross-field rules) the fast path calls or mirrors, and tests/imports/test_rows.py
checks it against the models on generated rows, and that each bound read here is the bound the model
enforces. A schema may also document a shape the model does not enforce on the raw input
(json_schema_extra): patterns are read only for the columns whose models enforce them (region, card system
and class, entitlements).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from app.registry.schemas import CardIn, CredentialIn, HolderIn, IssuerIn, PermitIn, SkillIn, TitleIn

# Each file column and the model field it becomes (app.imports.validation.build_payload nests holder_* and
# issuer_* columns). Columns without a string bound of their own (dates, the id type, the level) are absent.
COLUMN_FIELDS: Mapping[str, tuple[type[BaseModel], str]] = MappingProxyType(
    {
        "region": (CredentialIn, "region"),
        "number": (CredentialIn, "number"),
        "holder_name": (HolderIn, "name"),
        "holder_id_number": (HolderIn, "id_number"),
        "issuer_name": (IssuerIn, "name"),
        "issuer_usci": (IssuerIn, "usci"),
        "title_code": (TitleIn, "title_code"),
        "specialty": (TitleIn, "specialty"),
        "approval_no": (TitleIn, "approval_no"),
        "review_body": (TitleIn, "review_body"),
        "occupation_code": (SkillIn, "occupation_code"),
        "occupation_name": (SkillIn, "occupation_name"),
        "work_type": (SkillIn, "work_type"),
        "card_system": (CardIn, "card_system"),
        "card_class": (CardIn, "card_class"),
        "entitlements": (CardIn, "entitlements"),
        "permit_class": (PermitIn, "permit_class"),
        "employer_name": (PermitIn, "employer_name"),
        "employer_usci": (PermitIn, "employer_usci"),
    }
)


@cache
def model_properties(model: type[BaseModel]) -> Mapping[str, Any]:
    return MappingProxyType(model.model_json_schema(mode="validation")["properties"])


def field_schema(column: str) -> Mapping[str, Any]:
    """The JSON schema of the column's field; of its string member when the field is optional."""
    model, name = COLUMN_FIELDS[column]
    schema: Mapping[str, Any] = model_properties(model)[name]
    for member in schema.get("anyOf", ()):
        if member.get("type") != "null":
            return dict(member)
    return schema


def permit_number_max_length() -> int:
    """The permit number's own bound (PermitIn.number is not CredentialIn's Text64)."""
    return int(model_properties(PermitIn)["number"]["maxLength"])


def max_length(column: str) -> int:
    """The column's maximum length as its model checks it, on the raw value (before normalisation)."""
    return int(field_schema(column)["maxLength"])


def pattern(column: str) -> re.Pattern[str]:
    """The column's pattern, to be used with fullmatch (the models anchor theirs at both ends)."""
    return re.compile(field_schema(column)["pattern"])


def item_pattern(column: str) -> re.Pattern[str]:
    """The pattern of each item of a list column."""
    return re.compile(field_schema(column)["items"]["pattern"])


def max_items(column: str) -> int:
    return int(field_schema(column)["maxItems"])


def integer_bounds(model: type[BaseModel], name: str) -> tuple[int, int]:
    """(minimum, maximum) of an integer field as its model declares them (ge/le)."""
    schema = model_properties(model)[name]
    return int(schema["minimum"]), int(schema["maximum"])


def bounded_text_columns() -> dict[str, int]:
    """Every column whose model gives it a length bound tighter than the models' blanket 500 characters."""
    blanket = IssuerIn.model_config.get("str_max_length")
    strings = [column for column in COLUMN_FIELDS if field_schema(column).get("type") == "string"]
    return {column: bound for column in strings if (bound := max_length(column)) != blanket}
