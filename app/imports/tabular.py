"""Rows of a table-shaped file (CSV, XLSX): the header checked and mapped, then each record as a RawRow."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast

from app.imports.columns import COLUMNS, required_columns
from app.imports.raw_rows import (
    ECHOABLE_NAME,
    Cell,
    ImportFileError,
    NotText,
    RawRow,
    RecordError,
    RowProblem,
    raise_too_many_rows,
)


def rows_from_records(
    records: Iterator[Sequence[Cell]],
    kind: str,
    default_region: str | None,
    max_rows: int,
    *,
    text_only: bool,
) -> Iterator[RawRow]:
    """Check the header record, then turn each following record into a RawRow.

    `text_only` promises that every cell is a str (CSV), which allows the fastest mapping.
    """
    header = read_header_record(records)
    positions = check_header(header, kind, default_region)
    template: dict[str, str | None] = dict.fromkeys(COLUMNS[kind])
    names = [name for name in positions if name is not None]
    # With every header position named, a row no wider than the header is mapped by one comprehension:
    # nearly every row of a large file takes this path, and it decides the import's throughput.
    width = len(positions) if len(names) == len(positions) else -1
    row = count = 0
    while True:
        try:
            cells = next(records)
        except StopIteration:
            break
        except RecordError as exc:
            raise ImportFileError(422, exc.code, exc.message, row=row + 1) from None
        row += 1
        problems: tuple[RowProblem, ...] = ()
        if text_only and len(cells) <= width:
            texts = cast("Sequence[str]", cells)
            values = template | {name: text.strip() or None for name, text in zip(names, texts, strict=False)}
        else:
            values, problems = map_cells(cells, positions, template)
        if not problems and not any(values.values()):
            continue
        count += 1
        if count > max_rows:
            raise_too_many_rows(max_rows, row)
        if default_region is not None and values["region"] is None:
            values["region"] = default_region
        yield RawRow(row, values, problems)
    if count == 0:
        raise ImportFileError(422, "file.empty", "The file has a header but no data rows.")


def read_header_record(records: Iterator[Sequence[Cell]]) -> Sequence[Cell]:
    """Return the first non-blank record; leading blank lines do not count as a header."""
    try:
        for record in records:
            if any(isinstance(cell, NotText) or (cell and cell.strip()) for cell in record):
                return record
    except RecordError as exc:
        raise ImportFileError(422, exc.code, f"{exc.message} (in the header)") from None
    raise ImportFileError(422, "file.empty", "The file is empty.")


def check_header(header: Sequence[Cell], kind: str, default_region: str | None) -> list[str | None]:
    """Map each header position to its column (None for a blank name), or raise on a bad header.

    Names are compared trimmed, without BOM and case-insensitively. Missing columns are reported first:
    a file without a header row would otherwise report its first data row's cells as unknown columns.
    """
    known = frozenset(COLUMNS[kind])
    positions: list[str | None] = []
    duplicates: list[str] = []
    unknown: list[str] = []
    for index, cell in enumerate(header):
        name = normalize_column_name(cell)
        if name in known and name in positions:
            duplicates.append(name)
            name = ""
        elif name and name not in known:
            unknown.append(describe_column(name, index))
            name = ""
        positions.append(name or None)
    missing = [column for column in required_columns(kind, default_region) if column not in positions]
    if missing:
        raise ImportFileError(
            422,
            "header.missing_columns",
            f"Required columns are missing: {', '.join(missing)}.",
            column=missing[0],
        )
    if duplicates:
        raise ImportFileError(
            422,
            "header.duplicate_columns",
            f"Columns appear more than once: {', '.join(dict.fromkeys(duplicates))}.",
            column=duplicates[0],
        )
    if unknown:
        raise ImportFileError(
            422,
            "header.unknown_columns",
            f"Unknown columns for kind {kind}: {', '.join(unknown)}; see the template for the column names.",
        )
    return positions


def normalize_column_name(cell: Cell) -> str:
    """Trim a header cell, drop a BOM left by the encoder and fold case; non-text cells get a non-name."""
    if isinstance(cell, str):
        return cell.strip().lstrip("\ufeff").strip().lower()
    # A true/false or error cell can never name a column; "#" is unknown and never echoed.
    return "" if cell is None else "#"


def describe_column(name: str, index: int) -> str:
    """Name a header cell for a message: by its name when that is safe to echo, else by position."""
    position = f"column {index + 1} ({spreadsheet_column_label(index)})"
    return f"'{name}' ({position})" if ECHOABLE_NAME.fullmatch(name) else position


def spreadsheet_column_label(index: int) -> str:
    """Return the spreadsheet letters (A, B, …, Z, AA, …) of a 0-based column index."""
    label = ""
    number = index + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        label = chr(ord("A") + remainder) + label
    return label


def map_cells(
    cells: Sequence[Cell], positions: Sequence[str | None], template: dict[str, str | None]
) -> tuple[dict[str, str | None], tuple[RowProblem, ...]]:
    """Put each non-empty cell under its column; cells beyond the named columns are a row problem."""
    values = template.copy()
    problems: list[RowProblem] = []
    stray = False
    width = len(positions)
    for index, cell in enumerate(cells):
        if cell is None:
            continue
        column = positions[index] if index < width else None
        if isinstance(cell, NotText):
            problems.append(RowProblem(column, "cell.not_text", f"The cell holds {cell.what}, not text."))
            continue
        text = cell.strip()
        if not text:
            continue
        if column is None:
            stray = True
        else:
            values[column] = text
    if stray:
        # Trailing empty cells (Excel exports pad rows with commas) are harmless; only content is reported.
        message = "The row has values in cells outside the header's columns."
        problems.append(RowProblem(None, "row.too_many_cells", message))
    return values, tuple(problems)
