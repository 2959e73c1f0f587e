"""Reading an upload: `iter_rows` hands each file format to its reader and streams raw rows.

One module per format (csv_reader, xlsx_reader behind zip_guard, jsonl_reader), the table logic they share
(tabular), format detection (formats) and the template (template). The names the routes, the CLI and the job
runner need are re-exported here, so callers outside the readers import one module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, get_args

from app.imports.columns import COLUMNS, REQUIRED_COLUMNS, required_columns
from app.imports.csv_reader import iter_csv_rows
from app.imports.formats import ImportFormat, detect_format
from app.imports.jsonl_reader import iter_jsonl_rows
from app.imports.raw_rows import ImportFileError, RawRow, RowProblem
from app.imports.template import build_example_row, escape_csv_cell, render_template
from app.imports.text_lines import resolve_charset
from app.imports.xlsx_reader import iter_xlsx_rows
from app.imports.zip_guard import XlsxLimits

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "ImportFileError",
    "ImportFormat",
    "RawRow",
    "RowProblem",
    "XlsxLimits",
    "build_example_row",
    "detect_format",
    "escape_csv_cell",
    "iter_rows",
    "render_template",
    "required_columns",
]


def iter_rows(
    source: IO[bytes],
    fmt: ImportFormat,
    kind: str,
    *,
    charset: str | None = None,
    default_region: str | None = None,
    max_rows: int = 10_000_000,
    limits: XlsxLimits = XlsxLimits(),
) -> Iterator[RawRow]:
    """Stream the data rows of an uploaded file, checking the header before the first row comes out.

    The file is read incrementally and never held in memory as a whole. Argument problems (unknown kind or
    format, unsupported charset, unseekable XLSX source) raise at once; everything about the content raises
    ImportFileError while iterating, header problems before any row is yielded. Blank CSV and XLSX rows are
    skipped but keep their number, so that numbers match what a spreadsheet shows; blank JSONL lines are
    not counted.

    CSV and JSONL need a buffered binary file. XLSX needs a seekable one (zip keeps its directory at the end):
    pass the spooled temporary file the upload was written to, not a network stream. XLSX cells typed as
    numbers have already lost leading zeros and every digit past the 15th (Excel stores doubles), which no
    reader can recover: such document numbers fail validation and must be re-entered as text.
    `default_region` fills the region of rows that have none and makes the region column optional.
    """
    if kind not in COLUMNS:
        raise ValueError(f"unknown kind {kind!r}")
    if fmt == "csv":
        return iter_csv_rows(source, kind, resolve_charset(charset), default_region, max_rows)
    if fmt == "jsonl":
        return iter_jsonl_rows(source, kind, resolve_charset(charset), default_region, max_rows)
    if fmt == "xlsx":
        if not source.seekable():
            raise ValueError("an XLSX source must be seekable; spool the upload to a temporary file first")
        return iter_xlsx_rows(source, kind, default_region, max_rows, limits)
    raise ValueError(f"unknown format {fmt!r}; expected one of {get_args(ImportFormat)}")
