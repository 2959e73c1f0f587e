"""A chunk of an upload's rows as the columnar checks take it (app.imports.column_checks): the rows without a
parse problem as columns of a polars frame, the others as the readers' RawRows. Shared by the chunked readers
(app.imports.column_chunks, csv_chunks, jsonl_chunks)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from app.imports.columns import COLUMNS
from app.imports.raw_rows import RawRow

# Python's whitespace (str.strip, str.isspace) is Unicode's White_Space plus the information separators
# U+001C-U+001F (a test checks every character). A cell starting or ending with one is stripped by Python.
PYTHON_SPACE: Final = r"[\s\x1c-\x1f]"
EDGE_SPACE: Final = f"^{PYTHON_SPACE}|{PYTHON_SPACE}$"


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


def before_row(chunk: RowChunk, row: int) -> RowChunk:
    return RowChunk(chunk.frame.filter(pl.col("row") < row), [raw for raw in chunk.others if raw.row < row])


def frame_of_cells(
    cells: pl.DataFrame,
    numbers: pl.Series,
    kind: str,
    default_region: str | None,
    *,
    drop_blank: bool = True,
) -> pl.DataFrame:
    """The RowChunk frame of lines' cells (a column each, named) and their row numbers: cells stripped, empty
    ones None, blank rows dropped (a table's: their numbers are not reused), the default region filled in."""
    names = cells.columns
    frame = pl.concat([numbers.to_frame(), cells], how="horizontal")
    frame = frame.with_columns([stripped(frame[name]) for name in names])
    missing = [column for column in COLUMNS[kind] if column not in names]
    frame = frame.with_columns([pl.lit(None, pl.String).alias(column) for column in missing])
    if drop_blank:
        frame = frame.filter(pl.any_horizontal(pl.col(COLUMNS[kind]).is_not_null()))
    if default_region is not None:
        frame = frame.with_columns(pl.col("region").fill_null(pl.lit(default_region)))
    return frame.select(list(frame_schema(kind)))


def stripped(column: pl.Series) -> pl.Series:
    """`cell.strip() or None` of every cell, as the readers give it: Python strips cells at either edge of
    which polars sees whitespace, the others have nothing to strip."""
    edges = column.str.contains(EDGE_SPACE).fill_null(False)
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
