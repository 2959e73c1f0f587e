"""The chunked reader gives the rows the row readers give: the same numbers, values, problems and file errors,
whether the file is plain CSV (split by polars) or anything else (gathered from app.imports.parsing)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.imports.column_chunks import _EDGE_SPACE, is_plain_csv, iter_chunks
from app.imports.formats import ImportFormat
from app.imports.parsing import COLUMNS, ImportFileError, RawRow, iter_rows

CELLS = [
    "",
    " ",
    "x",
    " y ",
    "\u3000z\u3000",
    "a\x1c",
    "\x1fb",
    "字",
    "2022-06-01",
    "SC",
    "\u00a0",
    "\u2028c",
    "q\t",
]


def read_rows(path: Path, fmt: ImportFormat, max_rows: int, region: str | None) -> object:
    try:
        with path.open("rb") as source:
            return list(iter_rows(source, fmt, "title", default_region=region, max_rows=max_rows))
    except ImportFileError as exc:
        return (exc.code, exc.row, exc.message)


def read_chunks(path: Path, fmt: ImportFormat, max_rows: int, region: str | None, block: int) -> object:
    rows: list[RawRow] = []
    try:
        for chunk in iter_chunks(
            path,
            fmt,
            "title",
            charset=None,
            default_region=region,
            max_rows=max_rows,
            chunk_rows=3,
            block_bytes=block,
        ):
            rows += chunk.raw_rows(chunk.frame["row"].to_list()) + chunk.others
    except ImportFileError as exc:
        return (exc.code, exc.row, exc.message)
    return sorted(rows, key=lambda raw: raw.row)


@st.composite
def csv_files(draw: st.DrawFn) -> str:
    columns = list(COLUMNS["title"])
    header = draw(st.permutations(columns))
    header = header[: draw(st.integers(len(header) - 3, len(header)))]
    lines = [",".join(header)]
    for _ in range(draw(st.integers(0, 8))):
        width = draw(st.integers(0, len(header) + 2))
        lines.append(",".join(draw(st.lists(st.sampled_from(CELLS), min_size=width, max_size=width))))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return ending.join(lines) + draw(st.sampled_from(["", ending]))


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    text=csv_files(),
    max_rows=st.integers(1, 10),
    region=st.sampled_from([None, "SC"]),
    block=st.sampled_from([16, 64, 1 << 20]),
)
def test_chunks_of_a_csv_file_are_its_rows(text: str, max_rows: int, region: str | None, block: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.csv"
        path.write_bytes(text.encode())
        assert read_chunks(path, "csv", max_rows, region, block) == read_rows(path, "csv", max_rows, region)


@pytest.mark.parametrize(
    ("content", "plain"),
    [
        (b"region,number\nSC,1\n", True),
        (b"\xef\xbb\xbfregion,number\r\nSC,1\r\n", True),
        (b'region,number\nSC,"1"\n', False),
        (b"region,number\n\nSC,1\n", False),
        (b"region,number\nSC,1\rSC,2\n", False),
        (b"region,number\nSC,\xff\n", False),
        (b",,\nregion,number\nSC,1\n", False),
        (b"region,number\nSC,1\x00\n", False),
    ],
)
def test_only_plain_files_are_split_by_polars(content: bytes, plain: bool, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(content)
    assert is_plain_csv(path) is plain


@pytest.mark.parametrize(
    "content",
    [
        b"region,number\nSC,1\n\nSC,2\n",
        b'region,number,holder_name\nSC,1,"a,b"\n',
        b"region,number\nSC,1\nSC,\xff\n",
        b"\n,,\nregion,number\nSC,1\n",
    ],
)
def test_other_files_are_read_by_the_row_reader(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(content)
    assert read_chunks(path, "csv", 10, "SC", 1 << 20) == read_rows(path, "csv", 10, "SC")


def test_a_jsonl_file_is_gathered_into_chunks(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    lines = ['{"region": "SC", "number": "1"}', '{"number": "\\ud800"}', "", '{"number": ["x"]}', '{"a": 1}']
    path.write_text("\n".join(lines) + "\n")
    assert read_chunks(path, "jsonl", 10, None, 1 << 20) == read_rows(path, "jsonl", 10, None)


def test_every_python_whitespace_is_seen_at_a_cells_edge() -> None:
    spaces = [chr(code) for code in range(0x110000) if chr(code).isspace()]
    cells = pl.Series([space + "x" for space in spaces] + ["x" + space for space in spaces])
    assert cells.str.contains(_EDGE_SPACE).all()
