"""The chunked reader gives the rows the row readers give: the same numbers, values, problems and file errors,
whether the file is plain CSV (split by polars) or anything else (gathered from app.imports.parsing)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.imports.column_chunks import iter_chunks
from app.imports.csv_chunks import is_plain_csv
from app.imports.formats import ImportFormat
from app.imports.parsing import COLUMNS, ImportFileError, RawRow, iter_rows
from app.imports.row_chunks import EDGE_SPACE, PYTHON_SPACE

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
    """The rows the row reader gives, and the error it stops at (None when it reads to the end)."""
    rows: list[RawRow] = []
    try:
        with path.open("rb") as source:
            rows += iter_rows(source, fmt, "title", default_region=region, max_rows=max_rows)
    except ImportFileError as exc:
        return rows, (exc.status, exc.code, exc.row, exc.column, exc.message)
    return rows, None


def read_chunks(path: Path, fmt: ImportFormat, max_rows: int, region: str | None, block: int) -> object:
    """The same from the chunked reader (chunks of 3 rows gathered, or of `block` bytes)."""
    rows: list[RawRow] = []
    error = None
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
            rows += sorted(
                chunk.raw_rows(chunk.frame["row"].to_list()) + chunk.others, key=lambda raw: raw.row
            )
    except ImportFileError as exc:
        error = (exc.status, exc.code, exc.row, exc.column, exc.message)
    return rows, error


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


@pytest.mark.parametrize("block", [16, 1 << 20])
def test_a_line_starting_with_a_byte_order_mark_keeps_it(block: int, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(b"region,number\n\xef\xbb\xbfSC,1\nSC,\xef\xbb\xbf2\n")
    assert is_plain_csv(path)
    assert read_chunks(path, "csv", 10, None, block) == read_rows(path, "csv", 10, None)


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
    assert cells.str.contains(EDGE_SPACE).all()


def test_polars_sees_exactly_pythons_whitespace() -> None:
    # A JSON line of these characters only is blank to the reader (str.strip), and to the chunked reader.
    characters = pl.Series([chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF])
    spaces = characters.filter(characters.str.contains(f"^{PYTHON_SPACE}$")).to_list()
    assert spaces == [chr(code) for code in range(0x110000) if chr(code).isspace()]


KEYS = [*COLUMNS["title"], "Region", " number", "extra"]
VALUES = [*CELLS, "2022-06-01", "a\\b", 'q"uote', "\u5f20"]


@st.composite
def jsonl_lines(draw: st.DrawFn) -> str:
    """A line: mostly an object of the kind's keys and plain strings, sometimes anything the reader meets."""
    shape = draw(st.sampled_from(["plain", "plain", "plain", "odd", "blank", "broken"]))
    if shape == "blank":
        return draw(st.sampled_from(["", " ", "\t", "\u3000", "\x1c"]))
    if shape == "broken":
        return draw(st.sampled_from(["{", "[]", '{"region": "SC",}', "null", '{"region": NaN}', '"x"']))
    keys = draw(st.lists(st.sampled_from(KEYS if shape == "odd" else COLUMNS["title"]), max_size=6))
    pairs = []
    for key in keys:
        value = draw(
            st.one_of(st.sampled_from(VALUES), st.none(), st.just(["a", "b"]), st.integers(-5, 5))
            if shape == "odd"
            else st.one_of(st.sampled_from(CELLS), st.none())
        )
        pairs.append(
            f"{json.dumps(key)}{draw(st.sampled_from(['', ' ']))}:{json.dumps(value, ensure_ascii=False)}"
        )
    return "{" + draw(st.sampled_from([",", ", "])).join(pairs) + "}"


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(jsonl_lines(), max_size=12),
    ending=st.sampled_from(["\n", "\r\n"]),
    last=st.booleans(),
    max_rows=st.integers(1, 10),
    region=st.sampled_from([None, "SC"]),
    block=st.sampled_from([16, 64, 1 << 20]),
)
def test_chunks_of_a_jsonl_file_are_its_rows(
    lines: list[str], ending: str, last: bool, max_rows: int, region: str | None, block: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl"
        path.write_bytes((ending.join(lines) + (ending if last else "")).encode())
        assert read_chunks(path, "jsonl", max_rows, region, block) == read_rows(
            path, "jsonl", max_rows, region
        )
