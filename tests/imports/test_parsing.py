"""Tests of the streaming CSV, XLSX and JSON Lines readers of the bulk import."""

from __future__ import annotations

import csv
import io
import json
import pickle
import struct
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from app.domain.identity import IdType, compute_resident_id_check, validate_document_number
from app.domain.skill_number import validate_skill_number
from app.domain.uscc import validate_uscc
from app.imports import columns, csv_reader, xlsx_reader
from app.imports.parsing import (
    COLUMNS,
    REQUIRED_COLUMNS,
    ImportFileError,
    ImportFormat,
    RawRow,
    XlsxLimits,
    build_example_row,
    detect_format,
    escape_csv_cell,
    iter_rows,
    render_template,
)
from app.reference.number_formats import SKILL_NUMBER_FORMATS

KINDS = ("title", "skill", "card")
# A fictitious but checksum-valid resident ID: it must never show up in any message.
SECRET_ID = "11010519491231002"
SECRET_ID += compute_resident_id_check(SECRET_ID)


def example(kind: str, **changes: str) -> dict[str, str]:
    """A valid row of the kind, as the template shows it, with some values replaced."""
    return build_example_row(kind) | changes


def csv_bytes(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, encoding: str = "utf-8", bom: bool = False
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def kind_csv(kind: str, rows: Sequence[dict[str, str]], **options: Any) -> bytes:
    header = COLUMNS[kind]
    return csv_bytes(header, [[row.get(column, "") for column in header] for row in rows], **options)


def xlsx_bytes(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def jsonl_bytes(objects: Sequence[object]) -> bytes:
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in objects).encode()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_rows(path: Path, kind: str, **options: Any) -> list[RawRow]:
    """Detect the format like the upload route does, then read every row from the real file."""
    with path.open("rb") as source:
        fmt = detect_format(path.name, None, source.read(4096))
        source.seek(0)
        return list(iter_rows(source, fmt, kind, **options))


def parse(data: bytes, fmt: ImportFormat, kind: str = "title", **options: Any) -> list[RawRow]:
    return list(iter_rows(io.BytesIO(data), fmt, kind, **options))


def parse_error(data: bytes, fmt: ImportFormat, kind: str = "title", **options: Any) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        parse(data, fmt, kind, **options)
    return caught.value


def assert_clean(rows: Sequence[RawRow]) -> None:
    assert [row.problems for row in rows] == [()] * len(rows)


# --- contract ---


def test_columns_follow_the_api_contract() -> None:
    common = COLUMNS["title"][:11]
    assert common == (
        "region",
        "number",
        "holder_name",
        "holder_id_type",
        "holder_id_number",
        "issuer_name",
        "issuer_usci",
        "issuer_level",
        "issued_on",
        "valid_from",
        "valid_until",
    )
    assert COLUMNS["title"][11:] == ("title_code", "specialty", "obtained_on", "approval_no", "review_body")
    assert COLUMNS["skill"][11:] == ("occupation_code", "occupation_name", "level", "work_type")
    assert COLUMNS["card"][11:] == ("card_system", "card_class", "entitlements")
    for kind in KINDS:
        assert set(REQUIRED_COLUMNS[kind]) <= set(COLUMNS[kind])
        assert "region" in REQUIRED_COLUMNS[kind]
        assert "region" not in columns.required_columns(kind, "SC")
    assert set(REQUIRED_COLUMNS["card"]) - set(REQUIRED_COLUMNS["skill"]) == {"card_system", "card_class"}


def test_import_file_error_survives_pickling() -> None:
    error = ImportFileError(422, "file.encoding", "bad bytes", 7, "number")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (copy.status, copy.code, copy.message, copy.row, copy.column) == (
        422,
        "file.encoding",
        "bad bytes",
        7,
        "number",
    )
    assert str(copy) == "bad bytes"


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="kind"):
        iter_rows(io.BytesIO(b""), "csv", "nope")


# --- happy paths in every format ---


@pytest.mark.parametrize("kind", KINDS)
def test_csv_happy_path(tmp_path: Path, kind: str) -> None:
    second = example(kind, number="N2", holder_name="李四")
    rows = read_rows(write(tmp_path, "in.csv", kind_csv(kind, [example(kind), second])), kind)
    assert [row.row for row in rows] == [1, 2]
    assert_clean(rows)
    assert rows[0].values == {column: example(kind).get(column) or None for column in COLUMNS[kind]}
    assert rows[1].values["holder_name"] == "李四"


@pytest.mark.parametrize("kind", KINDS)
def test_xlsx_happy_path(tmp_path: Path, kind: str) -> None:
    header = COLUMNS[kind]
    data = xlsx_bytes({"Sheet": [header, [example(kind).get(column) for column in header]]})
    rows = read_rows(write(tmp_path, "in.xlsx", data), kind)
    assert [row.row for row in rows] == [1]
    assert_clean(rows)
    assert rows[0].values == {column: example(kind).get(column) or None for column in header}


@pytest.mark.parametrize("kind", KINDS)
def test_jsonl_happy_path(tmp_path: Path, kind: str) -> None:
    rows = read_rows(
        write(tmp_path, "in.jsonl", jsonl_bytes([example(kind), example(kind, number="N2")])), kind
    )
    assert [row.row for row in rows] == [1, 2]
    assert_clean(rows)
    assert rows[0].values == {column: example(kind).get(column) or None for column in COLUMNS[kind]}


def test_ndjson_extension_reads_as_jsonl(tmp_path: Path) -> None:
    rows = read_rows(write(tmp_path, "in.NDJSON", jsonl_bytes([example("card")])), "card")
    assert rows[0].values["entitlements"] == "hukou;housing;healthcare"


# --- CSV encodings and syntax ---


def test_csv_with_utf8_bom_strips_it_from_the_first_column(tmp_path: Path) -> None:
    rows = read_rows(write(tmp_path, "bom.csv", kind_csv("title", [example("title")], bom=True)), "title")
    assert rows[0].values["region"] == "SC"


def test_csv_utf8_without_bom_keeps_chinese(tmp_path: Path) -> None:
    data = kind_csv("title", [example("title", holder_name="欧阳娜娜", specialty="给排水")])
    rows = read_rows(write(tmp_path, "plain.csv", data), "title")
    assert (rows[0].values["holder_name"], rows[0].values["specialty"]) == ("欧阳娜娜", "给排水")


@pytest.mark.parametrize("charset", ["GB18030", "gbk", "gb2312", '"gb18030"'])
def test_gb18030_csv_is_read_with_the_declared_charset(tmp_path: Path, charset: str) -> None:
    data = kind_csv("title", [example("title", holder_name="张三丰"), example("title", holder_name="王小明")])
    data = data.decode().encode("gb18030")
    rows = read_rows(write(tmp_path, "gb.csv", data), "title", charset=charset)
    assert [row.values["holder_name"] for row in rows] == ["张三丰", "王小明"]
    assert rows[0].values["issuer_name"] == example("title")["issuer_name"]


def test_gb18030_csv_with_gb18030_bom(tmp_path: Path) -> None:
    data = "\ufeff".encode("gb18030") + kind_csv("title", [example("title")]).decode().encode("gb18030")
    rows = read_rows(write(tmp_path, "gb.csv", data), "title", charset="gb18030")
    assert rows[0].values["region"] == "SC"


def test_utf8_bom_wins_over_a_wrongly_declared_charset(tmp_path: Path) -> None:
    data = kind_csv("title", [example("title", holder_name="张三丰")], bom=True)
    rows = read_rows(write(tmp_path, "bom.csv", data), "title", charset="gb18030")
    assert rows[0].values["holder_name"] == "张三丰"


def test_gb18030_bytes_read_as_utf8_fail_naming_the_row() -> None:
    # Row 1 is pure ASCII and decodes either way; row 2 carries GB18030 Chinese, which is invalid UTF-8.
    ascii_row = example(
        "title", holder_name="Li Lei", issuer_name="X", specialty="", approval_no="", review_body=""
    )
    text = kind_csv("title", [ascii_row, example("title", holder_name="张三丰")]).decode()
    error = parse_error(text.encode("gb18030"), "csv")
    assert (error.status, error.code, error.row) == (422, "file.encoding", 2)


def test_undecodable_header_is_an_encoding_error() -> None:
    error = parse_error("地区,编号\n".encode("gb18030"), "csv")
    assert (error.code, error.row) == ("file.encoding", None)


def test_unsupported_charset_is_415() -> None:
    with pytest.raises(ImportFileError) as caught:
        iter_rows(io.BytesIO(b""), "csv", "title", charset="utf-16")
    assert (caught.value.status, caught.value.code) == (415, "file.unsupported_charset")


def test_quoted_field_with_newline_and_comma() -> None:
    rows_in = [
        example("title", specialty="电气,自动化", review_body="第一行\n第二行"),
        example("title", number="N2"),
    ]
    rows = parse(kind_csv("title", rows_in), "csv")
    assert rows[0].values["specialty"] == "电气,自动化"
    assert rows[0].values["review_body"] == "第一行\n第二行"
    assert [row.row for row in rows] == [1, 2]


def test_cells_are_stripped_and_empty_cells_become_none() -> None:
    rows = parse(kind_csv("title", [example("title", holder_name="  张三 ", specialty="   ")]), "csv")
    assert rows[0].values["holder_name"] == "张三"
    assert rows[0].values["specialty"] is None
    assert rows[0].values["valid_until"] is None


def test_unbalanced_quote_is_malformed_with_row() -> None:
    data = kind_csv("title", [example("title")]) + b'SC,"N2" x,\r\n'
    error = parse_error(data, "csv")
    assert (error.code, error.row) == ("csv.malformed", 2)


def test_line_without_breaks_is_refused_not_buffered() -> None:
    data = kind_csv("title", [example("title")]) + b"x" * (csv_reader.MAX_CSV_LINE_BYTES + 10)
    error = parse_error(data, "csv")
    assert (error.code, error.row) == ("csv.malformed", 2)


def test_extra_cells_with_content_are_a_row_problem_trailing_empty_ones_are_not() -> None:
    header = COLUMNS["title"]
    cells = [example("title").get(column, "") for column in header]
    data = csv_bytes(header, [[*cells, "", ""], [*cells, SECRET_ID], cells[:3]])
    rows = parse(data, "csv")
    assert rows[0].problems == ()
    assert [problem.code for problem in rows[1].problems] == ["row.too_many_cells"]
    assert SECRET_ID not in rows[1].problems[0].message
    # A short row is not a parse problem: its missing cells are None.
    assert rows[2].problems == ()
    assert rows[2].values["holder_name"] == example("title")["holder_name"]
    assert rows[2].values["issuer_name"] is None


def test_csv_blank_lines_are_skipped_but_counted() -> None:
    data = (
        kind_csv("title", [example("title")])
        + b"\r\n,,,\r\n"
        + kind_csv("title", [example("title")]).split(b"\r\n", 1)[1]
    )
    rows = parse(data, "csv")
    assert [row.row for row in rows] == [1, 4]


# --- header checks ---


def test_header_names_are_trimmed_and_case_insensitive() -> None:
    header = [
        f"  {column.upper()} " if index % 2 else column.title()
        for index, column in enumerate(COLUMNS["skill"])
    ]
    rows = parse(csv_bytes(header, [[example("skill").get(c, "") for c in COLUMNS["skill"]]]), "csv", "skill")
    assert rows[0].values["occupation_code"] == "6-31-01-03"


def test_optional_columns_may_be_absent() -> None:
    required = REQUIRED_COLUMNS["skill"]
    rows = parse(csv_bytes(required, [[example("skill")[column] for column in required]]), "csv", "skill")
    assert rows[0].values["work_type"] is None
    assert set(rows[0].values) == set(COLUMNS["skill"])


def test_missing_required_columns() -> None:
    header = [column for column in COLUMNS["card"] if column not in ("number", "card_class")]
    error = parse_error(csv_bytes(header, [["x"] * len(header)]), "csv", "card")
    assert (error.status, error.code, error.column) == (422, "header.missing_columns", "number")
    assert "number" in error.message
    assert "card_class" in error.message


@pytest.mark.parametrize("duplicate", ["number", "NUMBER", " Number "])
def test_duplicate_columns(duplicate: str) -> None:
    header = [*COLUMNS["title"], duplicate]
    error = parse_error(csv_bytes(header, [["x"] * len(header)]), "csv")
    assert (error.code, error.column) == ("header.duplicate_columns", "number")


def test_unknown_columns_are_named_when_safe_and_placed_otherwise() -> None:
    header = [*COLUMNS["title"], " Remarks ", "备注"]
    error = parse_error(csv_bytes(header, [["x"] * len(header)]), "csv")
    assert error.code == "header.unknown_columns"
    assert "'remarks' (column 17 (Q))" in error.message
    assert "column 18 (R)" in error.message
    assert "备注" not in error.message


def test_unknown_column_of_another_kind() -> None:
    header = [*COLUMNS["title"], "card_system"]
    assert parse_error(csv_bytes(header, [["x"] * len(header)]), "csv").code == "header.unknown_columns"


def test_headerless_file_never_echoes_its_first_row() -> None:
    cells = [example("title", holder_id_number=SECRET_ID).get(column, "") for column in COLUMNS["title"]]
    error = parse_error(csv_bytes(cells, [cells]), "csv")
    assert error.code == "header.missing_columns"
    assert SECRET_ID not in error.message


def test_region_column_may_be_left_out_with_a_default_region() -> None:
    header = [column for column in COLUMNS["title"] if column != "region"]
    data = csv_bytes(header, [[example("title").get(column, "") for column in header]])
    assert parse_error(data, "csv").code == "header.missing_columns"
    rows = parse(data, "csv", default_region="CQ")
    assert rows[0].values["region"] == "CQ"


def test_default_region_fills_only_empty_region_cells() -> None:
    data = kind_csv("title", [example("title", region=""), example("title", region="SC")])
    rows = parse(data, "csv", default_region="CQ")
    assert [row.values["region"] for row in rows] == ["CQ", "SC"]


def test_blank_header_cells_are_ignored_but_their_content_is_reported() -> None:
    header = [*COLUMNS["title"], "", ""]
    cells = [example("title").get(column, "") for column in COLUMNS["title"]]
    rows = parse(csv_bytes(header, [[*cells, "", ""], [*cells, "", "x"]]), "csv")
    assert rows[0].problems == ()
    assert [problem.code for problem in rows[1].problems] == ["row.too_many_cells"]


# --- empty files ---


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n  \n"])
def test_empty_text_file(fmt: ImportFormat, data: bytes) -> None:
    error = parse_error(data, fmt)
    assert (error.status, error.code) == (422, "file.empty")


def test_header_only_file_is_empty() -> None:
    assert parse_error(csv_bytes(COLUMNS["title"], []), "csv").code == "file.empty"
    assert parse_error(csv_bytes(COLUMNS["title"], [[""] * 16, []]), "csv").code == "file.empty"


def test_header_only_or_empty_workbook(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as caught:
        read_rows(write(tmp_path, "h.xlsx", xlsx_bytes({"Sheet": [COLUMNS["title"]]})), "title")
    assert caught.value.code == "file.empty"
    with pytest.raises(ImportFileError) as caught:
        read_rows(write(tmp_path, "e.xlsx", xlsx_bytes({"Sheet": []})), "title")
    assert caught.value.code == "file.empty"


# --- row cap and streaming ---


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_row_cap(fmt: ImportFormat) -> None:
    rows_in = [example("title", number=f"N{index}") for index in range(4)]
    header = COLUMNS["title"]
    data = {
        "csv": lambda: kind_csv("title", rows_in),
        "jsonl": lambda: jsonl_bytes(rows_in),
        "xlsx": lambda: xlsx_bytes({"S": [header, *[[row.get(c) for c in header] for row in rows_in]]}),
    }[fmt]()
    assert len(parse(data, fmt, max_rows=4)) == 4
    yielded: list[RawRow] = []
    with pytest.raises(ImportFileError) as caught:
        yielded.extend(iter_rows(io.BytesIO(data), fmt, "title", max_rows=3))
    assert (caught.value.status, caught.value.code, caught.value.row) == (413, "file.too_many_rows", 4)
    assert len(yielded) == 3


class EndlessRows(io.RawIOBase):
    """A file that never ends: a header, then one valid row after another, counting the bytes handed out."""

    def __init__(self, header: bytes, row: bytes) -> None:
        self.pending = header
        self.row = row
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self.pending) < len(buffer):
            self.pending += self.row
        size = len(buffer)
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        self.served += size
        return size


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_row_cap_is_checked_while_streaming(fmt: ImportFormat) -> None:
    if fmt == "csv":
        header, row = kind_csv("title", [example("title")]).split(b"\r\n", 1)
        endless = EndlessRows(header + b"\r\n", row)
    else:
        endless = EndlessRows(b"", jsonl_bytes([example("title")]))
    with pytest.raises(ImportFileError) as caught:
        for _ in iter_rows(io.BufferedReader(endless, buffer_size=8192), fmt, "title", max_rows=3):
            pass
    assert caught.value.code == "file.too_many_rows"
    assert endless.served <= 16384


# --- format detection ---


def test_detect_format_by_extension_and_content() -> None:
    workbook = xlsx_bytes({"S": [["a"]]})
    assert detect_format("a.csv", "text/csv", b"region,number\r\n") == "csv"
    assert detect_format("A.CSV", None, b"\xef\xbb\xbfregion\r\n") == "csv"
    assert detect_format(r"C:\Users\x\A.xlsx", None, workbook[:512]) == "xlsx"
    assert detect_format("a.jsonl", "application/octet-stream", b'\n  {"region": "SC"}') == "jsonl"
    assert detect_format("a.ndjson", "application/x-ndjson", b'\xef\xbb\xbf{"a": 1}') == "jsonl"
    # Windows browsers label CSV as an Excel type: too unreliable to compare.
    assert detect_format("a.csv", "application/vnd.ms-excel", b"region\r\n") == "csv"


@pytest.mark.parametrize(
    ("filename", "content_type", "head"),
    [
        ("a.csv", None, b"PK\x03\x04\x14\x00rest"),
        ("a.xlsx", None, b"region,number\r\n"),
        ("a.csv", None, b'{"region": "SC"}\n'),
        ("a.jsonl", None, b"region,number\n"),
        ("a.jsonl", None, b"PK\x03\x04"),
        ("a.xlsx", None, b"   \n"),
        ("a.csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"region\n"),
        ("a.xlsx", "text/csv; charset=utf-8", b"PK\x03\x04"),
    ],
)
def test_type_mismatch(filename: str, content_type: str | None, head: bytes) -> None:
    with pytest.raises(ImportFileError) as caught:
        detect_format(filename, content_type, head)
    assert (caught.value.status, caught.value.code) == (422, "file.type_mismatch")
    assert filename not in caught.value.message


def test_real_files_with_the_wrong_extension(tmp_path: Path) -> None:
    for name, data in [
        ("x.csv", xlsx_bytes({"S": [["a"]]})),
        ("x.xlsx", kind_csv("title", [example("title")])),
        ("x.csv", jsonl_bytes([example("title")])),
    ]:
        with pytest.raises(ImportFileError) as caught:
            read_rows(write(tmp_path, name, data), "title")
        assert caught.value.code == "file.type_mismatch"


def test_legacy_or_encrypted_workbook_gets_a_hint() -> None:
    with pytest.raises(ImportFileError) as caught:
        detect_format("a.xlsx", None, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert caught.value.code == "file.type_mismatch"
    assert "password" in caught.value.message


@pytest.mark.parametrize("filename", ["a.xls", "a.txt", "a", "csv", "a.csv.exe", ""])
def test_unsupported_extension(filename: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        detect_format(filename, None, b"region\n")
    assert (caught.value.status, caught.value.code) == (415, "file.unsupported_type")


def test_empty_upload_is_empty_whatever_its_name() -> None:
    with pytest.raises(ImportFileError) as caught:
        detect_format("a.xlsx", None, b"")
    assert caught.value.code == "file.empty"


# --- XLSX defences ---


def test_zip_bomb_is_refused_without_inflating_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bomb.xlsx"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w") as part,
    ):
        zeros = bytes(1024 * 1024)
        for _ in range(50):
            part.write(zeros)
    assert path.stat().st_size < 200_000

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("openpyxl must not see a zip bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", forbidden)
    with pytest.raises(ImportFileError) as caught:
        read_rows(path, "title")
    assert (caught.value.status, caught.value.code) == (413, "xlsx.too_large")


def test_total_expanded_size_is_capped(tmp_path: Path) -> None:
    path = write(tmp_path, "a.xlsx", xlsx_bytes({"S": [COLUMNS["title"], ["x"] * 16]}))
    with pytest.raises(ImportFileError) as caught:
        read_rows(path, "title", limits=XlsxLimits(max_uncompressed_bytes=2000))
    assert (caught.value.status, caught.value.code) == (413, "xlsx.too_large")


def test_too_many_entries(tmp_path: Path) -> None:
    path = tmp_path / "many.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(11):
            archive.writestr(f"part{index}.xml", "<a/>")
    with pytest.raises(ImportFileError) as caught:
        read_rows(path, "title", limits=XlsxLimits(max_entries=10))
    assert (caught.value.status, caught.value.code) == (413, "xlsx.too_many_entries")


def test_entry_count_is_not_taken_from_the_declared_total(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(50):
            archive.writestr(f"part{index}.xml", "<a/>")
    data = bytearray(buffer.getvalue())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 1, 1)  # claim a single entry
    with pytest.raises(ImportFileError) as caught:
        read_rows(write(tmp_path, "liar.xlsx", bytes(data)), "title", limits=XlsxLimits(max_entries=10))
    assert caught.value.code == "xlsx.too_many_entries"


def replace_part(data: bytes, name: str, content: bytes) -> bytes:
    """Rewrite one part of a zip archive, keeping the others."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, content if info.filename == name else source.read(info))
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>"""


def test_xml_with_doctype_is_forbidden(tmp_path: Path) -> None:
    data = replace_part(xlsx_bytes({"S": [["a"]]}), "xl/worksheets/sheet1.xml", BILLION_LAUGHS)
    with pytest.raises(ImportFileError) as caught:
        read_rows(write(tmp_path, "lol.xlsx", data), "title")
    assert (caught.value.status, caught.value.code) == (422, "xlsx.forbidden_xml")


def test_xml_with_doctype_in_utf16_is_forbidden(tmp_path: Path) -> None:
    utf16 = (
        BILLION_LAUGHS.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16")
    )
    data = replace_part(xlsx_bytes({"S": [["a"]]}), "xl/worksheets/sheet1.xml", utf16)
    with pytest.raises(ImportFileError) as caught:
        read_rows(write(tmp_path, "lol16.xlsx", data), "title")
    assert caught.value.code == "xlsx.forbidden_xml"


def test_entities_hidden_past_the_probe_are_stopped_by_defusedxml(tmp_path: Path) -> None:
    padded = BILLION_LAUGHS.replace(b"<!DOCTYPE", b"<!--" + b" " * 5000 + b"-->\n<!DOCTYPE", 1)
    data = replace_part(xlsx_bytes({"S": [["a"]]}), "xl/worksheets/sheet1.xml", padded)
    with pytest.raises(ImportFileError) as caught:
        read_rows(write(tmp_path, "late.xlsx", data), "title")
    assert caught.value.code == "xlsx.forbidden_xml"


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04" + b"\x00" * 200,
        b"PK\x03\x04garbage that is not a zip archive at all",
    ],
)
def test_malformed_zip(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ImportFileError) as caught:
        read_rows(write(tmp_path, "bad.xlsx", data), "title")
    assert (caught.value.status, caught.value.code) == (422, "xlsx.malformed")


def test_truncated_workbook_is_malformed(tmp_path: Path) -> None:
    data = xlsx_bytes({"S": [COLUMNS["title"], ["x"] * 16]})
    with pytest.raises(ImportFileError) as caught:
        read_rows(write(tmp_path, "cut.xlsx", data[: len(data) // 2]), "title")
    assert caught.value.code == "xlsx.malformed"


def test_zip_without_workbook_parts_is_malformed(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ImportFileError) as caught:
        read_rows(write(tmp_path, "nope.xlsx", buffer.getvalue()), "title")
    assert caught.value.code == "xlsx.malformed"


def test_xlsx_needs_a_seekable_source() -> None:
    class Unseekable(io.BytesIO):
        def seekable(self) -> bool:
            return False

    with pytest.raises(ValueError, match="seekable"):
        iter_rows(Unseekable(b"PK\x03\x04"), "xlsx", "title")


# --- XLSX cell values ---


def test_xlsx_values_become_the_text_a_user_typed(tmp_path: Path) -> None:
    header = COLUMNS["skill"]
    row: dict[str, object] = dict(example("skill"))
    row |= {
        "issued_on": datetime(2024, 9, 15),
        "valid_from": date(2024, 9, 16),
        "level": 3,
        "holder_id_number": 510104198503121234.0,  # typed as a number: precision is gone for good
        "occupation_code": "6-31-01-03",
        "issuer_level": None,
        "number": "  S0000510001232430004 ",
    }
    data = xlsx_bytes({"Sheet": [header, [row.get(column) for column in header]]})
    values = read_rows(write(tmp_path, "v.xlsx", data), "skill")[0].values
    assert values["issued_on"] == "2024-09-15"
    assert values["valid_from"] == "2024-09-16"
    assert values["level"] == "3"
    assert values["holder_id_number"] == "510104198503121216"
    assert values["issuer_level"] is None
    assert values["number"] == "S0000510001232430004"


def first_sheet(data: bytes) -> ReadOnlyWorksheet:
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    assert isinstance(sheet, ReadOnlyWorksheet)
    sheet.reset_dimensions()
    return sheet


def test_xlsx_number_formatting_rules() -> None:
    data = xlsx_bytes({"S": [[3.0, datetime(2024, 1, 2, 10, 30), 2.5, 7, "007"]]})
    assert next(xlsx_reader.iter_sheet_records(first_sheet(data))) == [
        "3",
        "2024-01-02T10:30:00",
        "2.5",
        "7",
        "007",
    ]


def test_xlsx_booleans_and_error_cells_are_row_problems(tmp_path: Path) -> None:
    header = COLUMNS["title"]
    first = [example("title").get(column) for column in header]
    bad: list[object] = list(first)
    bad[header.index("specialty")] = True
    bad[header.index("approval_no")] = "#N/A"
    data = xlsx_bytes({"S": [header, first, bad]})
    rows = read_rows(write(tmp_path, "b.xlsx", data), "title")
    assert rows[0].problems == ()
    assert [(problem.column, problem.code) for problem in rows[1].problems] == [
        ("specialty", "cell.not_text"),
        ("approval_no", "cell.not_text"),
    ]


def test_xlsx_prefers_the_sheet_named_after_the_kind(tmp_path: Path) -> None:
    header = COLUMNS["card"]
    data = xlsx_bytes(
        {
            "Notes": [["this sheet is not data"]],
            "Card": [header, [example("card").get(column) for column in header]],
        }
    )
    rows = read_rows(write(tmp_path, "c.xlsx", data), "card")
    assert rows[0].values["card_system"] == "sc-tianfu"


def test_xlsx_row_numbers_count_blank_rows_but_not_the_header(tmp_path: Path) -> None:
    header = COLUMNS["title"]
    valid = [example("title").get(column) for column in header]
    data = xlsx_bytes({"S": [header, valid, [None] * 16, valid]})
    rows = read_rows(write(tmp_path, "r.xlsx", data), "title")
    assert [row.row for row in rows] == [1, 3]


def test_xlsx_header_checks_apply(tmp_path: Path) -> None:
    data = xlsx_bytes({"S": [[*COLUMNS["title"], "Number"], ["x"] * 17]})
    with pytest.raises(ImportFileError) as caught:
        read_rows(write(tmp_path, "d.xlsx", data), "title")
    assert caught.value.code == "header.duplicate_columns"


# --- JSON Lines ---


def test_jsonl_values_lists_numbers_and_nulls() -> None:
    line: dict[str, object] = dict(example("card"))
    line |= {
        "entitlements": ["hukou", " housing ", "", 42],
        "valid_until": None,
        "number": 12345,
        "card_class": 1.0,
    }
    values = parse(jsonl_bytes([line]), "jsonl", "card")[0].values
    assert values["entitlements"] == "hukou;housing;42"
    assert values["valid_until"] is None
    assert values["number"] == "12345"
    assert values["card_class"] == "1"


def test_jsonl_first_line_need_not_list_optional_keys() -> None:
    minimal = {key: example("title")[key] for key in REQUIRED_COLUMNS["title"]}
    rows = parse(jsonl_bytes([minimal, example("title")]), "jsonl")
    assert_clean(rows)
    assert rows[0].values["specialty"] is None
    assert rows[1].values["specialty"] == "电气工程"


def test_jsonl_nested_values_are_row_problems() -> None:
    line: dict[str, object] = dict(example("card"))
    line |= {"holder_name": {"given": "三"}, "specialty": 1, "issuer_name": ["a"], "entitlements": [["x"]]}
    line["card_class"] = True
    rows = parse(jsonl_bytes([line]), "jsonl", "card")
    codes = {(problem.column, problem.code) for problem in rows[0].problems}
    assert ("holder_name", "cell.not_text") in codes
    assert ("issuer_name", "cell.not_text") in codes
    assert ("entitlements", "cell.not_text") in codes
    assert ("card_class", "cell.not_text") in codes
    assert (None, "row.unknown_keys") in codes  # specialty is not a card column


def test_jsonl_unknown_and_duplicate_keys() -> None:
    text = json.dumps(example("title"))[:-1] + ', "Number": "N9", "remark": "x", "' + SECRET_ID + '": 1}\n'
    rows = parse(text.encode(), "jsonl")
    problems = {problem.code: problem for problem in rows[0].problems}
    assert problems["row.duplicate_keys"].column == "number"
    assert "remark" in problems["row.unknown_keys"].message
    assert "1 other key(s)" in problems["row.unknown_keys"].message
    assert SECRET_ID not in problems["row.unknown_keys"].message


@pytest.mark.parametrize(
    "bad_line",
    [
        '{"region": "SC", "holder_id_number": "' + SECRET_ID + '"',
        '["SC", "' + SECRET_ID + '"]',
        '"' + SECRET_ID + '"',
        '{"region": NaN}',
        "[" * 5000 + "]" * 5000,
    ],
)
def test_jsonl_malformed_line_names_its_row(bad_line: str) -> None:
    data = b"\n" + jsonl_bytes([example("title")]) + b"   \n" + bad_line.encode() + b"\n"
    error = parse_error(data, "jsonl")
    assert (error.status, error.code, error.row) == (422, "jsonl.malformed", 2)
    assert SECRET_ID not in error.message


def test_jsonl_line_over_64_kib() -> None:
    long_line = json.dumps(example("title", specialty="x" * 70_000)).encode() + b"\n"
    error = parse_error(jsonl_bytes([example("title")]) + long_line, "jsonl")
    assert (error.code, error.row) == ("jsonl.malformed", 2)


def test_jsonl_blank_lines_are_not_counted() -> None:
    data = (
        b"\n \n" + jsonl_bytes([example("title")]) + b"\r\n\n" + jsonl_bytes([example("title", number="N2")])
    )
    assert [row.row for row in parse(data, "jsonl")] == [1, 2]


def test_jsonl_default_region() -> None:
    line = {key: value for key, value in example("title").items() if key != "region"}
    assert parse(jsonl_bytes([line]), "jsonl", default_region="CQ")[0].values["region"] == "CQ"


def test_jsonl_invalid_utf8_names_its_row() -> None:
    data = jsonl_bytes([example("title")]) + json.dumps({"holder_name": "张三"}, ensure_ascii=False).encode(
        "gb18030"
    )
    error = parse_error(data, "jsonl")
    assert (error.code, error.row) == ("file.encoding", 2)


# --- no cell contents in messages ---


def test_messages_never_contain_cell_values(tmp_path: Path) -> None:
    secret_row = example("title", holder_id_number=SECRET_ID)
    header = COLUMNS["title"]
    cells = [secret_row.get(column, "") for column in header]
    messages: list[str] = []
    # A row problem on a row that holds the ID number.
    rows = parse(csv_bytes(header, [[*cells, SECRET_ID]]), "csv")
    messages += [problem.message for problem in rows[0].problems]
    # Encoding, syntax and header errors around it.
    for data in (
        csv_bytes(header, [cells]) + "张三".encode("gb18030") + b"," + SECRET_ID.encode() + b"\r\n",
        csv_bytes(header, [cells]) + b'"' + SECRET_ID.encode() + b'"x\r\n',
        csv_bytes([*header, SECRET_ID], [cells]),
        csv_bytes(cells, [cells]),
    ):
        messages.append(parse_error(data, "csv").message)
    # XLSX cells that are not text, and JSONL values of the wrong shape.
    bad: list[object] = [*cells[:4], True, *cells[5:]]
    xlsx_rows = read_rows(write(tmp_path, "s.xlsx", xlsx_bytes({"S": [header, bad]})), "title")
    messages += [problem.message for problem in xlsx_rows[0].problems]
    line = secret_row | {"holder_name": {"id": SECRET_ID}, "issuer_name": [SECRET_ID]}
    messages += [problem.message for problem in parse(jsonl_bytes([line]), "jsonl")[0].problems]
    assert len(messages) >= 8
    for message in messages:
        assert SECRET_ID not in message
        assert SECRET_ID[:10] not in message


# --- template and error-report escaping ---


@pytest.mark.parametrize("kind", KINDS)
def test_template_parses_back_and_its_example_is_valid(kind: str) -> None:
    text = render_template(kind)
    assert text.startswith("\ufeff")
    lines = text.lstrip("\ufeff").split("\r\n")
    assert lines[0] == ",".join(COLUMNS[kind])
    assert lines[2:] == [""]
    rows = parse(text.encode(), "csv", kind)
    assert_clean(rows)
    values = rows[0].values
    assert all(values[column] for column in REQUIRED_COLUMNS[kind])
    assert (
        validate_document_number(IdType.RESIDENT_ID, values["holder_id_number"] or "")
        == values["holder_id_number"]
    )
    assert validate_uscc(values["issuer_usci"] or "") == values["issuer_usci"]
    if kind == "skill":
        level = int(values["level"] or 0)
        number = validate_skill_number(values["number"] or "", level, SKILL_NUMBER_FORMATS)
        assert (number.format_name, number.province_code, len(number.number)) == ("national-2020", "51", 22)
        assert int(number.issue_year_2digit or 0) >= 20
    if kind == "title":
        assert values["title_code"] == "0502"
    if kind == "card":
        assert (values["card_system"], values["card_class"], values["region"]) == ("sc-tianfu", "A", "SC")


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("张三", "张三"),
        ("a=b", "a=b"),
        ("", ""),
        ("'quoted", "'quoted"),
    ],
)
def test_escape_csv_cell(value: str, escaped: str) -> None:
    assert escape_csv_cell(value) == escaped
