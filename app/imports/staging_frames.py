"""Staging lines of a whole frame of clean rows at once: the columnar counterpart of staging.staging_values
and staging.encode_line, giving the same bytes (tests/imports/test_column_checks.py compares them).

The holder's keyed hash and cipher are made per row by the vault (staging.encrypt_documents); the rest, the
masked number, the dates as text, COPY's escaping and the joining of fields, are expressions over columns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import polars as pl

from app.domain.identity import IdType
from app.domain.masking import MASK, mask_document_number
from app.imports.staging import NULL, STAGING_COLUMNS

# CleanRow's names for the staging columns that are named otherwise.
_SOURCES: Final = {"row_no": "row", "region_code": "region"}
_SPECIAL: Final = frozenset({"id_hash", "id_cipher", "id_masked", "entitlements"})
# COPY text format: backslash first, so that the escapes' own backslashes are not escaped again (one pass).
_ESCAPED: Final = ["\\", "\t", "\n", "\r"]
_ESCAPES: Final = ["\\\\", "\\t", "\\n", "\\r"]
_NEEDS_ESCAPE: Final = r"[\\\t\n\r]"


def staging_block(frame: pl.DataFrame, id_hashes: Sequence[str], ciphers: Sequence[str]) -> bytes:
    """The COPY-text lines (UTF-8) of clean rows in CLEAN_SCHEMA, in the frame's order, each as
    encode_line(staging_values(row, id_hash, cipher)) would write it."""
    if frame.height == 0:
        return b""
    special = {
        "id_hash": pl.Series(id_hashes, dtype=pl.String),
        "id_cipher": pl.Series(ciphers, dtype=pl.String),
        "id_masked": masked_numbers(frame),
        "entitlements": entitlements_json(frame["entitlements"]),
    }
    fields = frame.select(
        [
            (pl.lit(special[name]) if name in _SPECIAL else pl.col(_SOURCES.get(name, name)))
            .cast(pl.String)
            .alias(name)
            for name in STAGING_COLUMNS
        ]
    )
    # Validated text is printable, so escaping is rarely needed: only the columns that hold a character
    # COPY escapes are rewritten (in one pass each, backslash first).
    found = fields.select(pl.all().str.contains(_NEEDS_ESCAPE).any()).row(0)
    dirty = [name for name, needs in zip(fields.columns, found, strict=True) if needs]
    if dirty:
        fields = fields.with_columns(pl.col(dirty).str.replace_many(_ESCAPED, _ESCAPES))
    # Tab-separated, never quoted, NULL as \N, "\n" after each line: COPY's text format once escaped.
    return fields.write_csv(
        None, separator="\t", quote_style="never", include_header=False, null_value=NULL
    ).encode()


def masked_numbers(frame: pl.DataFrame) -> pl.Series:
    """mask_document_number of each row: resident IDs (18 characters once normalised) on the column, other
    documents one by one."""
    resident = (frame["id_type"] == IdType.RESIDENT_ID.value) & (frame["id_number"].str.len_chars() == 18)
    numbers = frame["id_number"]
    masked = frame.select(
        pl.concat_str(
            [pl.col("id_number").str.slice(0, 6), pl.lit(MASK * 8), pl.col("id_number").str.slice(14)]
        )
    ).to_series()
    if resident.all():
        return masked
    others = [
        mask_document_number(IdType(id_type), number)
        for id_type, number, plain in zip(frame["id_type"], numbers, resident, strict=True)
        if not plain
    ]
    return masked.scatter((~resident).arg_true(), others)


def entitlements_json(column: pl.Series) -> pl.Series:
    """The JSON text staging_values writes for each list (json.dumps), once per distinct list."""
    if column.null_count() == column.len():
        return pl.Series([None] * column.len(), dtype=pl.String)
    texts: dict[tuple[str, ...], str] = {}
    out: list[str | None] = []
    for value in column.to_list():
        if value is None:
            out.append(None)
            continue
        key = tuple(value)
        if key not in texts:
            texts[key] = json.dumps(list(key))
        out.append(texts[key])
    return pl.Series(out, dtype=pl.String)
