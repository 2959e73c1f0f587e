"""Plain CSV files read a block at a time into chunks of columns, as the row reader
(app.imports.csv_reader with app.imports.tabular) would read them: the same rows, numbers, values and file
errors. Plain: UTF-8, no quote character, no bare CR, no NUL, no blank line, no line over the reader's bound,
what bulk exports look like; a file is checked for that before its first row is read (one more read, at memory
speed), so the choice never changes halfway. A block's lines are split by polars' CSV reader (without
quoting), or, for a block it cannot take (a line wider than the header), by a split on commas; rows wider than
the header keep their RawRow from the reader's own mapping.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

import polars as pl

from app.imports.columns import COLUMNS
from app.imports.csv_reader import MAX_CSV_LINE_BYTES
from app.imports.raw_rows import ImportFileError, RawRow, raise_too_many_rows
from app.imports.row_chunks import RowChunk, before_row, frame_of_cells, frame_schema
from app.imports.tabular import check_header, map_cells
from app.imports.text_lines import UTF8_BOM

# A block of a plain CSV file is a chunk: ~5,000 rows of 200 bytes. The peak RSS grows with the block (200,000
# rows validated: 243 MB at 1 MiB, 265 at 2, 310 at 4) and the speed did not measurably.
BLOCK_BYTES: Final = 1 * 1024 * 1024


def is_plain_csv(path: Path) -> bool:
    """Whether each line of the file is one record whose cells are its comma-separated parts: no quote
    character, no bare CR, no NUL, no blank line, valid UTF-8, no line over the reader's bound."""
    with path.open("rb") as source:
        head = source.read(len(UTF8_BOM))
        carry = b"" if head == UTF8_BOM else head
        first = True
        while True:
            block = source.read(BLOCK_BYTES)
            data = carry + block
            if not block:
                return plain_lines(data, first, last=True)
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) > MAX_CSV_LINE_BYTES:
                    return False
                carry = data
                continue
            if not plain_lines(data[:cut], first, last=False):
                return False
            carry, first = data[cut:], False


def plain_lines(data: bytes, first: bool, *, last: bool) -> bool:
    if b'"' in data or b"\x00" in data or b"\n\n" in data or b"\n\r\n" in data:
        return False
    if data.count(b"\r") != data.count(b"\r\n"):
        return False
    if not first and data.startswith((b"\n", b"\r\n")):
        return False  # the block before ended a line: this is a blank one
    if first:
        header = data.split(b"\n", 1)[0].decode("utf-8", "replace")
        # A blank header record (",,,") is skipped by the reader, which takes the next line as the header.
        if not any(cell.strip() for cell in header.split(",")):
            return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return max(map(len, data.split(b"\n")), default=0) <= MAX_CSV_LINE_BYTES


def plain_csv_chunks(
    source: IO[bytes], kind: str, default_region: str | None, max_rows: int, block_bytes: int
) -> Iterator[RowChunk]:
    """Chunks of a file is_plain_csv accepted: tabular.rows_from_records' rows, numbers and errors."""
    if source.read(len(UTF8_BOM)) != UTF8_BOM:
        source.seek(0)
    header_line = source.readline().decode("utf-8")
    header = next(csv.reader([header_line]))
    positions = check_header(header, kind, default_region)
    names = [name for name in positions if name is not None]
    if len(names) != len(positions):
        # A blank header cell: rows_from_records' general mapping (map_cells) handles every row.
        names = []
    template: dict[str, str | None] = dict.fromkeys(COLUMNS[kind])
    row = count = 0
    carry = b""
    while True:
        block = source.read(block_bytes)
        data = carry + block
        if not block:
            carry = b""
        else:
            cut = data.rfind(b"\n") + 1
            data, carry = data[:cut], data[cut:]
        if data:
            read = chunk_of_block(data, row, kind, names, default_region) if names else None
            if read is None:
                lines = data.decode("utf-8").replace("\r\n", "\n").split("\n")
                if lines[-1] == "":
                    lines.pop()
                read = (
                    chunk_of_lines(lines, row, kind, positions, names, template, default_region),
                    len(lines),
                )
            chunk, line_count = read
            row += line_count
            over = count + chunk.count - max_rows
            if over > 0:
                # The rows before the first one over the cap are still checked, as the row readers do.
                rows = sorted([*chunk.frame["row"].to_list(), *(raw.row for raw in chunk.others)])
                first_over = rows[chunk.count - over]
                yield before_row(chunk, first_over)
                raise_too_many_rows(max_rows, first_over)
            count += chunk.count
            if chunk.count:
                yield chunk
        if not block:
            break
    if count == 0:
        raise ImportFileError(422, "file.empty", "The file has a header but no data rows.")


def chunk_of_lines(
    lines: list[str],
    before: int,
    kind: str,
    positions: list[str | None],
    names: list[str],
    template: dict[str, str | None],
    default_region: str | None,
) -> RowChunk:
    """The rows of consecutive lines, the first numbered before + 1."""
    width = len(positions)
    text = pl.Series("line", lines, dtype=pl.String)
    numbers = pl.int_range(before + 1, before + 1 + len(lines), dtype=pl.Int64, eager=True).alias("row")
    simple = (
        text.str.count_matches(",", literal=True) < width
        if names
        else pl.repeat(False, len(lines), eager=True)
    )
    others: list[RawRow] = []
    for index in (~simple).arg_true().to_list():
        # Wider than the header (or a header with blank cells): the reader's own mapping says what is wrong.
        values, problems = map_cells(lines[index].split(","), positions, template)
        if problems or any(values.values()):
            if default_region is not None and values["region"] is None:
                values["region"] = default_region
            others.append(RawRow(before + 1 + index, values, problems))
    cells = text.filter(simple).str.split_exact(",", width - 1).struct.unnest() if names else None
    if cells is None or cells.width == 0:
        return RowChunk(pl.DataFrame(schema=frame_schema(kind)), others)
    cells.columns = names
    return RowChunk(frame_of_cells(cells, numbers.filter(simple), kind, default_region), others)


def chunk_of_block(
    data: bytes, before: int, kind: str, names: list[str], default_region: str | None
) -> tuple[RowChunk, int] | None:
    """(the rows, the number of lines) of a block of whole lines, split by polars' CSV reader (no quoting);
    None when a line is wider than the header or the reader does not give one record per line."""
    if data.startswith(UTF8_BOM):
        return None  # a line starting with U+FEFF keeps it (the reader's cell), which a CSV reader may drop
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    try:
        cells = pl.read_csv(
            data,
            has_header=False,
            schema=dict.fromkeys(names, pl.String),
            quote_char=None,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError:
        return None
    if cells.height != lines:
        return None
    numbers = pl.int_range(before + 1, before + 1 + lines, dtype=pl.Int64, eager=True).alias("row")
    return RowChunk(frame_of_cells(cells, numbers, kind, default_region)), lines
