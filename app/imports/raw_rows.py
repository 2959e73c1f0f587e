"""What every format reader hands over: raw rows with their per-row problems, and the error that stops a file.

Shared by the CSV, XLSX and JSON Lines readers; nothing here looks at a particular format."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Names made only of lower-case ASCII letters and underscores cannot be a document number or a Chinese
# personal name, so they may be echoed in messages; anything else is described by its position only.
ECHOABLE_NAME = re.compile(r"[a-z_]{1,40}")


class ImportFileError(Exception):
    """A problem with the file as a whole: the import stops. Messages never contain cell contents."""

    status: int
    code: str
    message: str
    row: int | None
    column: str | None

    def __init__(
        self, status: int, code: str, message: str, row: int | None = None, column: str | None = None
    ) -> None:
        # Everything goes into args so that the exception survives pickling (e.g. across process pools).
        super().__init__(status, code, message, row, column)
        self.status = status
        self.code = code
        self.message = message
        self.row = row
        self.column = column

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A parse problem confined to one row; the row is still yielded so that all problems get reported."""

    column: str | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RawRow:
    """One data row: `row` is 1-based and does not count the header (JSONL: counts non-blank lines)."""

    row: int
    values: dict[str, str | None]
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class NotText:
    """A cell whose value is no text, number or date: `what` names the kind of value, never the value."""

    what: str


# A cell as the format readers hand it over: text (not yet stripped), None when empty, or NotText.
Cell = str | None | NotText


class RecordError(Exception):
    """A format reader failed inside a record; the row loop adds the row number it alone knows."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


class LineTooLong(Exception):
    """A physical line exceeds the reader's line bound."""


def raise_too_many_rows(max_rows: int, row: int) -> None:
    """Stop the import at the first row over the cap, before the rest of the file is read."""
    raise ImportFileError(413, "file.too_many_rows", f"The file has more than {max_rows} data rows.", row=row)


def format_number(value: float) -> str:
    """Write a whole float as an integer (Excel stores 3 as 3.0), any other as its shortest repr."""
    return str(int(value)) if value.is_integer() else repr(value)
