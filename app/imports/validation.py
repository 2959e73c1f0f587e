"""One row's validation. The fast checks (app.imports.fast_checks) take a row they can vouch for; any other
row goes through the registry's own models (app/registry/schemas.py), which decide and name every error, so
the models stay the one source of the rules and of their messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from pydantic import TypeAdapter, ValidationError

from app.imports.clean_rows import CleanRow, clean_from_model
from app.imports.code_tables import CodeTables, check_codes
from app.imports.column_checks import check_chunk, frame_of
from app.imports.fast_checks import check_row_fast
from app.imports.raw_rows import RawRow
from app.imports.row_chunks import RowChunk
from app.problems import describe_validation_errors
from app.registry.schemas import AnyCredentialIn, CredentialCreate

ROW_ADAPTER: TypeAdapter[AnyCredentialIn] = TypeAdapter(CredentialCreate)
HOLDER_COLUMNS = {"holder_name": "name", "holder_id_type": "id_type", "holder_id_number": "id_number"}
ISSUER_COLUMNS = {"issuer_name": "name", "issuer_usci": "usci", "issuer_level": "level"}


@dataclass(frozen=True)
class RowError:
    row: int | None
    column: str | None
    code: str
    message: str


def build_payload(kind: str, values: dict[str, str | None]) -> dict[str, Any]:
    """A flat file row as the registry's request body: holder and issuer nested, lists split."""
    payload: dict[str, Any] = {"kind": kind}
    holder: dict[str, str] = {}
    issuer: dict[str, str] = {}
    for column, value in values.items():
        if value is None:
            continue
        if column in HOLDER_COLUMNS:
            holder[HOLDER_COLUMNS[column]] = value
        elif column in ISSUER_COLUMNS:
            issuer[ISSUER_COLUMNS[column]] = value
        elif column == "entitlements":
            payload[column] = [item.strip() for item in value.split(";") if item.strip()]
        else:
            payload[column] = value
    payload["holder"], payload["issuer"] = holder, issuer
    return payload


def flatten_payload(payload: dict[str, Any]) -> dict[str, str]:
    """The inverse of build_payload: a request body as a file row."""
    row: dict[str, str] = {}
    for key, value in payload.items():
        if key == "kind" or value is None:
            continue
        if key in ("holder", "issuer"):
            row.update({f"{key}_{name}": str(item) for name, item in value.items() if item is not None})
        elif isinstance(value, list):
            row[key] = ";".join(value)
        else:
            row[key] = str(value)
    return row


def column_of(field_path: str | None) -> str | None:
    """`holder.id_number` → `holder_id_number`, `entitlements.2` → `entitlements`: the file's column."""
    if not field_path:
        return None
    parts = [p for p in field_path.split(".") if not p.isdigit()]
    if len(parts) >= 2 and parts[0] in ("holder", "issuer"):
        return f"{parts[0]}_{parts[1]}"
    return parts[0]


def validate_row(
    kind: str, raw: RawRow, tables: CodeTables, today: date
) -> tuple[CleanRow | None, list[RowError]]:
    """The lean checks take a row they can vouch for; any other row goes through the registry's models, which
    decide and name every error. `today` is the import's start (UTC): later dates are left to the models."""
    if not raw.problems:
        clean = check_row_fast(kind, raw.row, raw.values, tables, today)
        if clean is not None:
            return clean, []
    return validate_row_with_models(kind, raw, tables)


def validate_row_with_models(
    kind: str, raw: RawRow, tables: CodeTables
) -> tuple[CleanRow | None, list[RowError]]:
    errors = [RowError(raw.row, p.column, p.code, p.message) for p in raw.problems]
    try:
        model = ROW_ADAPTER.validate_python(build_payload(kind, raw.values))
    except ValidationError as exc:
        described = describe_validation_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        errors += [RowError(raw.row, column_of(e["field"]), e["code"], e["message"]) for e in described]
        return None, errors
    clean = clean_from_model(raw.row, model)
    errors += [
        RowError(raw.row, column, code, message) for column, code, message in check_codes(clean, tables)
    ]
    return (None if errors else clean), errors


def validate_chunk(
    kind: str, chunk: RowChunk, tables: CodeTables, today: date
) -> tuple[pl.DataFrame, list[RowError]]:
    """A chunk's clean rows (column_checks.CLEAN_SCHEMA, in file order) and the errors of the others. The
    columnar checks accept the rows they can vouch for; every other row goes through validate_row, which
    names its errors as the models do."""
    accepted, unsure = check_chunk(kind, chunk.frame, tables, today)
    others = sorted([*chunk.others, *chunk.raw_rows(unsure)], key=lambda raw: raw.row)
    cleans: list[CleanRow] = []
    errors: list[RowError] = []
    for raw in others:
        clean, found = validate_row(kind, raw, tables, today)
        errors += found
        if clean is not None:
            cleans.append(clean)
    if cleans:
        accepted = pl.concat([accepted, frame_of(cleans)]).sort("row")
    return accepted, errors
