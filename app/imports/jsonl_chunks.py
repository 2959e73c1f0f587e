"""Plain JSON Lines files read a block at a time into chunks of columns, as the row reader
(app.imports.jsonl_reader) would read them: the same rows, numbers, values, problems and file errors.

Plain file: UTF-8, no bare CR, no NUL, no line over the reader's bound (checked before the first row is read).
Within it, a plain line is an object whose keys are the kind's column names as written in the template, each
at most once, and whose values are strings without escapes, or null: its values are taken out by regular
expressions over the block's lines (polars). Any other line (numbers, lists, escapes, other spellings of a
key, malformed JSON) goes through the reader's own parse_json_row; blank lines are skipped and not counted,
as the reader does.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO, Final

import polars as pl

from app.imports.columns import COLUMNS
from app.imports.jsonl_reader import MAX_JSONL_LINE_BYTES, parse_json_row
from app.imports.raw_rows import ImportFileError, RawRow, raise_too_many_rows
from app.imports.row_chunks import PYTHON_SPACE, RowChunk, before_row, frame_of_cells
from app.imports.text_lines import UTF8_BOM

_SPACE: Final = "[ \\t]*"
# A JSON string without escapes (nor the control characters JSON forbids in a string), or null.
_TEXT: Final = '"([^"\\\\\\x00-\\x1f]*)"'
_VALUE: Final = '(?:"[^"\\\\\\x00-\\x1f]*"|null)'
_BLANK: Final = f"^{PYTHON_SPACE}*$"  # what str.strip() leaves empty


@cache
def plain_line(kind: str) -> str:
    """The regular expression of a plain line of the kind."""
    key = "|".join(COLUMNS[kind])
    pair = f'"(?:{key})"{_SPACE}:{_SPACE}{_VALUE}{_SPACE}'
    return f"^{_SPACE}\\{{{_SPACE}(?:{pair}(?:,{_SPACE}{pair})*)?\\}}{_SPACE}$"


def is_plain_jsonl(path: Path) -> bool:
    """Whether the file is UTF-8 without a bare CR or a NUL, and no line is over the reader's bound."""
    with path.open("rb") as source:
        carry = b""
        while True:
            block = source.read(2 * 1024 * 1024)
            data = carry + block
            cut = len(data) if not block else data.rfind(b"\n") + 1
            whole, carry = data[:cut], data[cut:]
            if len(carry) > MAX_JSONL_LINE_BYTES:
                return False
            if b"\x00" in whole or whole.count(b"\r") != whole.count(b"\r\n"):
                return False
            try:
                whole.decode("utf-8")
            except UnicodeDecodeError:
                return False
            if max(map(len, whole.split(b"\n")), default=0) > MAX_JSONL_LINE_BYTES:
                return False
            if not block:
                return True


def plain_jsonl_chunks(
    source: IO[bytes], kind: str, default_region: str | None, max_rows: int, block_bytes: int
) -> Iterator[RowChunk]:
    """Chunks of a file is_plain_jsonl accepted: iter_jsonl_rows' rows, numbers and errors."""
    if source.read(len(UTF8_BOM)) != UTF8_BOM:
        source.seek(0)
    template: dict[str, str | None] = dict.fromkeys(COLUMNS[kind])
    row = 0
    carry = b""
    first = True
    while True:
        block = source.read(block_bytes)
        data = carry + block
        cut = len(data) if not block else data.rfind(b"\n") + 1
        data, carry = data[:cut], data[cut:]
        if data:
            text = data.decode("utf-8").replace("\r\n", "\n")
            if first:
                text = text.removeprefix("\ufeff")
            first = False
            lines = text.split("\n")
            if lines[-1] == "":
                lines.pop()
            chunk, row, failure = chunk_of_lines(lines, row, kind, template, default_region)
            # The reader stops at the first row over the cap or the first malformed line, whichever comes
            # first, once the rows before it are out.
            cap = max_rows + 1 if row > max_rows else None
            if failure is not None and failure.row is not None and (cap is None or failure.row < cap):
                yield before_row(chunk, failure.row)
                raise failure
            if cap is not None:
                yield before_row(chunk, cap)
                raise_too_many_rows(max_rows, cap)
            if chunk.count:
                yield chunk
        if not block:
            break
    if row == 0:
        raise ImportFileError(422, "file.empty", "The file is empty.")


def chunk_of_lines(
    lines: list[str], before: int, kind: str, template: dict[str, str | None], default_region: str | None
) -> tuple[RowChunk, int, ImportFileError | None]:
    """(the rows of consecutive lines, the last row number, the error of the first malformed line if any)."""
    text = pl.Series("line", lines, dtype=pl.String)
    blank = text.str.contains(_BLANK)
    numbers = (before + (~blank).cast(pl.Int64).cum_sum()).alias("row")
    last = before + int((~blank).sum())
    columns = COLUMNS[kind]
    plain = text.str.contains(plain_line(kind))
    for column in columns:
        plain = plain & (text.str.count_matches(f'"{column}"{_SPACE}:') <= 1)
    plain = plain.fill_null(False) & ~blank
    cells = pl.DataFrame(
        [
            text.filter(plain).str.extract(f'"{column}"{_SPACE}:{_SPACE}{_TEXT}', 1).alias(column)
            for column in columns
        ]
    )
    frame = frame_of_cells(cells, numbers.filter(plain), kind, default_region, drop_blank=False)
    others: list[RawRow] = []
    failure: ImportFileError | None = None
    for index in (~plain & ~blank).arg_true().to_list():
        number = int(numbers[index])
        try:
            others.append(parse_json_row(lines[index], number, template, default_region))
        except ImportFileError as exc:
            failure = exc
            break
    return RowChunk(frame, others), last, failure
