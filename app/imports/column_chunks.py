"""An upload's rows in chunks of columns (app.imports.row_chunks) for the columnar checks
(app.imports.column_checks), giving the rows app.imports.parsing.iter_rows gives (same numbers, values,
problems and file errors):
- a plain CSV file is split by polars (app.imports.csv_chunks), a plain JSON Lines file too
  (app.imports.jsonl_chunks);
- any other file (XLSX, CSV with quotes or another charset, JSON Lines with other values than strings) is
  read row by row by its reader and its rows gathered into chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import polars as pl

from app.imports.columns import COLUMNS
from app.imports.csv_chunks import BLOCK_BYTES, is_plain_csv, plain_csv_chunks
from app.imports.formats import ImportFormat
from app.imports.jsonl_chunks import is_plain_jsonl, plain_jsonl_chunks
from app.imports.parsing import iter_rows
from app.imports.raw_rows import ImportFileError, RawRow
from app.imports.row_chunks import RowChunk, frame_schema
from app.imports.text_lines import resolve_charset

# Rows gathered from the row readers into one chunk.
CHUNK_ROWS: Final = 20_000


def iter_chunks(
    path: Path,
    fmt: ImportFormat,
    kind: str,
    *,
    charset: str | None,
    default_region: str | None,
    max_rows: int,
    chunk_rows: int = CHUNK_ROWS,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[RowChunk]:
    """The file's data rows in chunks, as app.imports.parsing.iter_rows reads them (same numbers, values,
    problems and file errors)."""
    utf8 = resolve_charset(charset) == "utf-8"
    if fmt == "csv" and utf8 and is_plain_csv(path):
        with path.open("rb") as source:
            yield from plain_csv_chunks(source, kind, default_region, max_rows, block_bytes)
        return
    if fmt == "jsonl" and utf8 and is_plain_jsonl(path):
        with path.open("rb") as source:
            yield from plain_jsonl_chunks(source, kind, default_region, max_rows, block_bytes)
        return
    with path.open("rb") as source:
        rows = iter_rows(source, fmt, kind, charset=charset, default_region=default_region, max_rows=max_rows)
        yield from gathered_chunks(rows, kind, chunk_rows)


def gathered_chunks(rows: Iterator[RawRow], kind: str, chunk_rows: int) -> Iterator[RowChunk]:
    batch: list[RawRow] = []
    try:
        for raw in rows:
            batch.append(raw)
            if len(batch) >= chunk_rows:
                yield chunk_of(batch, kind)
                batch = []
    except ImportFileError:
        # The reader stopped the file: the rows it gave before are still checked, as they were row by row.
        if batch:
            yield chunk_of(batch, kind)
        raise
    if batch:
        yield chunk_of(batch, kind)


def chunk_of(batch: list[RawRow], kind: str) -> RowChunk:
    plain = [raw for raw in batch if not raw.problems]
    others = [raw for raw in batch if raw.problems]
    try:
        frame = columns_of(plain, kind)
    except UnicodeEncodeError:
        # A lone surrogate (JSON's "\ud800") has no UTF-8 form, so no place in polars: such rows take the row
        # path (where the models refuse them), the others stay columnar.
        fits = [all(utf8_encodable(value) for value in raw.values.values()) for raw in plain]
        others += [raw for raw, fit in zip(plain, fits, strict=True) if not fit]
        others.sort(key=lambda raw: raw.row)
        frame = columns_of([raw for raw, fit in zip(plain, fits, strict=True) if fit], kind)
    return RowChunk(frame, others)


def columns_of(rows: list[RawRow], kind: str) -> pl.DataFrame:
    data: dict[str, list[Any]] = {"row": [raw.row for raw in rows]}
    data |= {column: [raw.values[column] for raw in rows] for column in COLUMNS[kind]}
    return pl.DataFrame(data, schema=frame_schema(kind))


def utf8_encodable(value: str | None) -> bool:
    if value is None:
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True
