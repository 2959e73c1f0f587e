"""An upload's rows in chunks of columns (polars frames) for the columnar checks (app.imports.column_checks).

Two ways in, giving the same rows, numbers and values:
- a plain CSV file (UTF-8, no quote character, no bare CR, no NUL, no blank line, no line over the bound:
  what bulk exports look like) is split into lines and cells by polars' CSV reader (without quoting), or,
  for a block it cannot take (a line wider than the header), by a split on commas;
- any other file (XLSX, JSON Lines, CSV with quotes or another charset) is read row by row by its reader
  (app.imports.parsing.iter_rows) and its rows gathered into chunks.
A file is checked for being plain before its first row is read (one more read of the file, at memory speed),
so the choice never changes halfway. Rows with a parse problem, and rows wider than the header, keep their
RawRow and go to the row path.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import polars as pl

from app.imports.columns import COLUMNS
from app.imports.csv_reader import MAX_CSV_LINE_BYTES
from app.imports.formats import ImportFormat
from app.imports.parsing import iter_rows
from app.imports.raw_rows import ImportFileError, RawRow, raise_too_many_rows
from app.imports.tabular import check_header, map_cells
from app.imports.text_lines import UTF8_BOM, resolve_charset

# A block of a plain CSV file is a chunk: ~10,000 rows of 200 bytes. Bigger blocks raised the peak RSS
# (8 MiB: +110 MB) more than the speed.
BLOCK_BYTES: Final = 2 * 1024 * 1024
# Rows gathered from the row readers into one chunk.
CHUNK_ROWS: Final = 20_000
# A cell starting or ending with one of these may be changed by str.strip(): Python's whitespace is
# Unicode's White_Space plus the information separators U+001C-U+001F (tests check every character).
# Such cells are stripped by Python itself.
_EDGE_SPACE: Final = r"^[\s\x1c-\x1f]|[\s\x1c-\x1f]$"


@dataclass
class RowChunk:
    """Consecutive data rows: those without a parse problem as columns, the others as RawRows."""

    frame: pl.DataFrame
    others: list[RawRow] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.frame.height + len(self.others)

    def raw_rows(self, rows: Collection[int]) -> list[RawRow]:
        """The RawRows of the frame's rows whose numbers are given, in file order."""
        if not rows:
            return []
        picked = self.frame.filter(pl.col("row").is_in(list(rows)))
        columns = [name for name in picked.columns if name != "row"]
        return [
            RawRow(values[0], dict(zip(columns, values[1:], strict=True))) for values in picked.iter_rows()
        ]


def frame_schema(kind: str) -> dict[str, type[pl.DataType]]:
    return {"row": pl.Int64, **dict.fromkeys(COLUMNS[kind], pl.String)}


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
    if fmt == "csv" and resolve_charset(charset) == "utf-8" and is_plain_csv(path):
        with path.open("rb") as source:
            yield from plain_csv_chunks(source, kind, default_region, max_rows, block_bytes)
        return
    with path.open("rb") as source:
        rows = iter_rows(source, fmt, kind, charset=charset, default_region=default_region, max_rows=max_rows)
        yield from gathered_chunks(rows, kind, chunk_rows)


def gathered_chunks(rows: Iterator[RawRow], kind: str, chunk_rows: int) -> Iterator[RowChunk]:
    batch: list[RawRow] = []
    for raw in rows:
        batch.append(raw)
        if len(batch) >= chunk_rows:
            yield chunk_of(batch, kind)
            batch = []
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


def before_row(chunk: RowChunk, row: int) -> RowChunk:
    return RowChunk(chunk.frame.filter(pl.col("row") < row), [raw for raw in chunk.others if raw.row < row])


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


def frame_of_cells(
    cells: pl.DataFrame, numbers: pl.Series, kind: str, default_region: str | None
) -> pl.DataFrame:
    """The RowChunk frame of lines' cells (a column each, named) and their row numbers: cells stripped, empty
    ones None, blank rows dropped (their numbers are not reused), the default region filled in."""
    names = cells.columns
    frame = pl.concat([numbers.to_frame(), cells], how="horizontal")
    frame = frame.with_columns([stripped(frame[name]) for name in names])
    missing = [column for column in COLUMNS[kind] if column not in names]
    frame = frame.with_columns([pl.lit(None, pl.String).alias(column) for column in missing])
    frame = frame.filter(pl.any_horizontal(pl.col(COLUMNS[kind]).is_not_null()))
    if default_region is not None:
        frame = frame.with_columns(pl.col("region").fill_null(pl.lit(default_region)))
    return frame.select(list(frame_schema(kind)))


def stripped(column: pl.Series) -> pl.Series:
    """`cell.strip() or None` of every cell, as the readers give it: Python strips cells at either edge of
    which polars sees whitespace, the others have nothing to strip."""
    edges = column.str.contains(_EDGE_SPACE).fill_null(False)
    if edges.any():
        values = column.to_list()
        for index in edges.arg_true().to_list():
            values[index] = values[index].strip()
        column = pl.Series(column.name, values, dtype=pl.String)
    return (
        pl.select(pl.when(pl.lit(column) == "").then(None).otherwise(pl.lit(column)))
        .to_series()
        .alias(column.name)
    )
