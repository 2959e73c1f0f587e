"""XLSX uploads: the first worksheet (or the one named after the kind) streamed by openpyxl, once the archive
has passed app.imports.zip_guard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import IO, Protocol

import openpyxl
from defusedxml import DefusedXmlException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from app.imports.raw_rows import Cell, ImportFileError, NotText, RawRow, RecordError, format_number
from app.imports.tabular import rows_from_records
from app.imports.zip_guard import XlsxLimits, inspect_archive


class _SheetCell(Protocol):
    """What is read of an openpyxl cell (read-only mode hands out several cell classes)."""

    @property
    def value(self) -> object: ...

    @property
    def data_type(self) -> str: ...


def iter_xlsx_rows(
    source: IO[bytes], kind: str, default_region: str | None, max_rows: int, limits: XlsxLimits
) -> Iterator[RawRow]:
    """Stream the first worksheet (or the one named after the kind) of a workbook checked for bombs first."""
    inspect_archive(source, limits)
    source.seek(0)
    workbook = open_workbook(source)
    try:
        sheet = pick_sheet(workbook, kind)
        # Producers write wrong <dimension> refs (even A1:XFD1048576); trusting one would pad every row
        # to 16,384 cells. Without it rows come out as long as their last cell.
        sheet.reset_dimensions()
        records = iter_sheet_records(sheet)
        yield from rows_from_records(records, kind, default_region, max_rows, text_only=False)
    finally:
        workbook.close()


def open_workbook(source: IO[bytes]) -> openpyxl.Workbook:
    """Open the workbook in streaming mode, reading cached formula results and never following links."""
    try:
        return openpyxl.load_workbook(source, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:
        # openpyxl reports a broken workbook through a zoo of exception types (KeyError for a missing part,
        # ParseError, TypeError, …) and wraps some in ValueError; to the uploader they all mean the same.
        if is_forbidden_xml(exc):
            raise ImportFileError(
                422,
                "xlsx.forbidden_xml",
                "The workbook contains XML with a document type or entity declaration.",
            ) from None
        raise ImportFileError(422, "xlsx.malformed", "The workbook could not be read as XLSX.") from None


def is_forbidden_xml(exc: BaseException) -> bool:
    """Tell whether defusedxml refused the XML, even when openpyxl re-raised it as something else."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DefusedXmlException):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def pick_sheet(workbook: openpyxl.Workbook, kind: str) -> ReadOnlyWorksheet:
    """Prefer a worksheet named after the kind (any case), else the first worksheet."""
    sheets = [sheet for sheet in workbook.worksheets if isinstance(sheet, ReadOnlyWorksheet)]
    if not sheets:
        raise ImportFileError(422, "file.empty", "The workbook has no worksheet.")
    for sheet in sheets:
        if sheet.title.strip().lower() == kind:
            return sheet
    return sheets[0]


def iter_sheet_records(sheet: ReadOnlyWorksheet) -> Iterator[list[Cell]]:
    """Yield each sheet row as cells; openpyxl's failures while parsing become RecordError."""
    rows = sheet.rows
    while True:
        try:
            cells = next(rows)
        except StopIteration:
            return
        except Exception as exc:
            if is_forbidden_xml(exc):
                raise RecordError(
                    "xlsx.forbidden_xml", "The worksheet contains a document type or entity declaration."
                ) from None
            raise RecordError("xlsx.malformed", "The worksheet XML is broken.") from None
        yield [convert_sheet_cell(cell) for cell in cells]


def convert_sheet_cell(cell: _SheetCell) -> Cell:
    """Turn a cell into the text a user typed: dates as YYYY-MM-DD, whole numbers without '.0'."""
    value = cell.value
    if value is None:
        return None
    if cell.data_type == "e":
        return NotText("a spreadsheet error value")
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return NotText("a true/false value")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, datetime):
        # Date cells come back as midnight datetimes; a real time of day is kept so validation rejects it.
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return NotText("a duration")
    return NotText("an unsupported value")
