"""Streaming readers that turn uploaded CSV, XLSX and JSON Lines files into raw per-row column values."""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from types import MappingProxyType
from typing import IO, Final, Literal, Protocol, cast, get_args

import openpyxl
from defusedxml import DefusedXmlException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from app.domain.identity import compute_resident_id_check
from app.domain.uscc import compute_uscc_check

ImportFormat = Literal["csv", "xlsx", "jsonl"]

_COMMON_COLUMNS = (
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
_COMMON_REQUIRED = (
    "region",
    "number",
    "holder_name",
    "holder_id_number",
    "issuer_name",
    "issuer_usci",
    "issued_on",
)

# The API contract: file columns are the request fields with holder and issuer flattened, in template order.
COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "title": (*_COMMON_COLUMNS, "title_code", "specialty", "obtained_on", "approval_no", "review_body"),
        "skill": (*_COMMON_COLUMNS, "occupation_code", "occupation_name", "level", "work_type"),
        "card": (*_COMMON_COLUMNS, "card_system", "card_class", "entitlements"),
    }
)
REQUIRED_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "title": (*_COMMON_REQUIRED, "title_code", "obtained_on"),
        "skill": (*_COMMON_REQUIRED, "occupation_code", "occupation_name", "level"),
        "card": (*_COMMON_REQUIRED, "card_system", "card_class"),
    }
)
LIST_SEPARATOR: Final = ";"
LIST_COLUMNS: frozenset[str] = frozenset({"entitlements"})

ZIP_MAGIC: Final = b"PK\x03\x04"
_UTF8_BOM: Final = b"\xef\xbb\xbf"
# OLE compound file: legacy .xls and every password-protected .xlsx (Office encrypts into a CFB container).
_CFB_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_EXTENSIONS: Mapping[str, ImportFormat] = MappingProxyType(
    {".csv": "csv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl"}
)
# Only media types that name one format are compared with the extension. Browsers send anything for CSV
# (Windows says application/vnd.ms-excel, curl application/octet-stream), so other types are ignored.
_DECLARED_TYPES: Mapping[str, ImportFormat] = MappingProxyType(
    {
        "text/csv": "csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
        "application/jsonl": "jsonl",
        "application/x-jsonlines": "jsonl",
        "application/x-ndjson": "jsonl",
    }
)
# GBK and GB2312 are subsets of GB18030, so one decoder serves all three; ASCII is a subset of UTF-8.
_CHARSETS: Mapping[str, str] = MappingProxyType(
    {
        "utf-8": "utf-8",
        "utf8": "utf-8",
        "utf-8-sig": "utf-8",
        "us-ascii": "utf-8",
        "ascii": "utf-8",
        "gb18030": "gb18030",
        "gbk": "gb18030",
        "gb2312": "gb18030",
        "cp936": "gb18030",
    }
)

# No sane CSV line of ~20 short columns comes near 1 MiB; the bound keeps a file without line breaks (or with
# old-Mac bare CR endings) from being held in memory as one "line". Quoted fields are bounded separately by
# csv.field_size_limit() (128 Ki characters).
MAX_CSV_LINE_BYTES: Final = 1024 * 1024
MAX_JSONL_LINE_BYTES: Final = 64 * 1024
_XML_PROBE_BYTES: Final = 4096

# Names made only of lower-case ASCII letters and underscores cannot be a document number or a Chinese
# personal name, so they may be echoed in messages; anything else is described by its position only.
_ECHOABLE_NAME = re.compile(r"[a-z_]{1,40}")


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
class XlsxLimits:
    """Bounds checked on the zip container before any XML is parsed."""

    max_entries: int = 10_000
    max_uncompressed_bytes: int = 512 * 1024 * 1024
    max_compression_ratio: int = 200
    # Small parts (styles, relationships) legitimately compress very well; a part below this size cannot do
    # harm through its ratio, and the total above still bounds them all together.
    ratio_floor_bytes: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class _NotText:
    """A cell whose value is no text, number or date: `what` names the kind of value, never the value."""

    what: str


# A cell as the format readers hand it over: text (not yet stripped), None when empty, or _NotText.
_Cell = str | None | _NotText


class _RecordError(Exception):
    """A format reader failed inside a record; the row loop adds the row number it alone knows."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


class _LineTooLong(Exception):
    """A physical line exceeds the reader's line bound."""


class _SheetCell(Protocol):
    """What is read of an openpyxl cell (read-only mode hands out several cell classes)."""

    @property
    def value(self) -> object: ...

    @property
    def data_type(self) -> str: ...


class _Pairs(list[tuple[str, object]]):
    """A JSON object kept as its key/value pairs, so that duplicate keys stay visible."""


def required_columns(kind: str, default_region: str | None = None) -> tuple[str, ...]:
    """Return the columns a file of this kind must have; region may be left out when a default is given."""
    required = REQUIRED_COLUMNS[kind]
    if default_region is None:
        return required
    return tuple(column for column in required if column != "region")


# --- format detection ---


def detect_format(filename: str, content_type: str | None, head: bytes) -> ImportFormat:
    """Return the file's format; the extension, the declared media type and the first bytes must agree.

    `head` is the start of the file (a few KiB are plenty). Messages never repeat the file name: it may
    carry a person's name.
    """
    expected = find_extension_format(filename)
    if not head:
        raise ImportFileError(422, "file.empty", "The file is empty.")
    sniffed = sniff_format(head)
    if sniffed is not None and sniffed != expected:
        raise ImportFileError(422, "file.type_mismatch", describe_mismatch(expected, sniffed, head))
    if expected == "xlsx" and sniffed is None:
        raise ImportFileError(422, "file.type_mismatch", "The file name says XLSX but it is not a workbook.")
    declared = _DECLARED_TYPES.get((content_type or "").split(";", 1)[0].strip().lower())
    if declared is not None and declared != expected:
        raise ImportFileError(
            422, "file.type_mismatch", "The declared content type does not match the file name's extension."
        )
    return expected


def find_extension_format(filename: str) -> ImportFormat:
    """Map the file name's extension to a format; anything else is 415."""
    # Browsers on Windows used to send the full client path; only the last component counts.
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip().lower()
    _, dot, extension = base.rpartition(".")
    fmt = _EXTENSIONS.get("." + extension) if dot else None
    if fmt is None:
        raise ImportFileError(
            415,
            "file.unsupported_type",
            "Upload a .csv, .xlsx, .jsonl or .ndjson file (legacy .xls is not read).",
        )
    return fmt


def sniff_format(head: bytes) -> ImportFormat | None:
    """Guess the format from the first bytes; None when they are only whitespace and tell nothing."""
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    text = head.removeprefix(_UTF8_BOM).lstrip()
    if not text:
        return None
    # A CSV starts with a column name, never with "{", so this cannot misjudge a valid file.
    return "jsonl" if text.startswith(b"{") else "csv"


def describe_mismatch(expected: ImportFormat, sniffed: ImportFormat, head: bytes) -> str:
    """Say which format the name claims and which the content shows."""
    if expected == "xlsx" and head.startswith(_CFB_MAGIC):
        return "The file is a legacy .xls or a password-protected workbook; save it as an unprotected .xlsx."
    labels = {"csv": "CSV", "xlsx": "an XLSX workbook", "jsonl": "JSON Lines"}
    return f"The file name says {expected.upper()} but the content looks like {labels[sniffed]}."


# --- entry point ---


def iter_rows(
    source: IO[bytes],
    fmt: ImportFormat,
    kind: str,
    *,
    charset: str | None = None,
    default_region: str | None = None,
    max_rows: int = 10_000_000,
    limits: XlsxLimits = XlsxLimits(),
) -> Iterator[RawRow]:
    """Stream the data rows of an uploaded file, checking the header before the first row comes out.

    The file is read incrementally and never held in memory as a whole. Argument problems (unknown kind or
    format, unsupported charset, unseekable XLSX source) raise at once; everything about the content raises
    ImportFileError while iterating, header problems before any row is yielded. Blank CSV and XLSX rows are
    skipped but keep their number, so that numbers match what a spreadsheet shows; blank JSONL lines are
    not counted.

    CSV and JSONL need a buffered binary file. XLSX needs a seekable one (zip keeps its directory at the end):
    pass the spooled temporary file the upload was written to, not a network stream. XLSX cells typed as
    numbers have already lost leading zeros and every digit past the 15th (Excel stores doubles), which no
    reader can recover: such document numbers fail validation and must be re-entered as text.
    `default_region` fills the region of rows that have none and makes the region column optional.
    """
    if kind not in COLUMNS:
        raise ValueError(f"unknown kind {kind!r}")
    if fmt == "csv":
        return iter_csv_rows(source, kind, resolve_charset(charset), default_region, max_rows)
    if fmt == "jsonl":
        return iter_jsonl_rows(source, kind, resolve_charset(charset), default_region, max_rows)
    if fmt == "xlsx":
        if not source.seekable():
            raise ValueError("an XLSX source must be seekable; spool the upload to a temporary file first")
        return iter_xlsx_rows(source, kind, default_region, max_rows, limits)
    raise ValueError(f"unknown format {fmt!r}; expected one of {get_args(ImportFormat)}")


def resolve_charset(charset: str | None) -> str:
    """Map the charset parameter of the upload's Content-Type to the codec used to decode it."""
    if charset is None:
        return "utf-8"
    codec = _CHARSETS.get(charset.strip().strip('"').lower())
    if codec is None:
        raise ImportFileError(
            415, "file.unsupported_charset", "Text files must be UTF-8 or GB18030 (GBK, GB2312)."
        )
    return codec


# --- rows shared by CSV and XLSX ---


def rows_from_records(
    records: Iterator[Sequence[_Cell]],
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
        except _RecordError as exc:
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


def read_header_record(records: Iterator[Sequence[_Cell]]) -> Sequence[_Cell]:
    """Return the first non-blank record; leading blank lines do not count as a header."""
    try:
        for record in records:
            if any(isinstance(cell, _NotText) or (cell and cell.strip()) for cell in record):
                return record
    except _RecordError as exc:
        raise ImportFileError(422, exc.code, f"{exc.message} (in the header)") from None
    raise ImportFileError(422, "file.empty", "The file is empty.")


def check_header(header: Sequence[_Cell], kind: str, default_region: str | None) -> list[str | None]:
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


def normalize_column_name(cell: _Cell) -> str:
    """Trim a header cell, drop a BOM left by the encoder and fold case; non-text cells get a non-name."""
    if isinstance(cell, str):
        return cell.strip().lstrip("\ufeff").strip().lower()
    # A true/false or error cell can never name a column; "#" is unknown and never echoed.
    return "" if cell is None else "#"


def describe_column(name: str, index: int) -> str:
    """Name a header cell for a message: by its name when that is safe to echo, else by position."""
    position = f"column {index + 1} ({spreadsheet_column_label(index)})"
    return f"'{name}' ({position})" if _ECHOABLE_NAME.fullmatch(name) else position


def spreadsheet_column_label(index: int) -> str:
    """Return the spreadsheet letters (A, B, …, Z, AA, …) of a 0-based column index."""
    label = ""
    number = index + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        label = chr(ord("A") + remainder) + label
    return label


def map_cells(
    cells: Sequence[_Cell], positions: Sequence[str | None], template: dict[str, str | None]
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
        if isinstance(cell, _NotText):
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


def raise_too_many_rows(max_rows: int, row: int) -> None:
    """Stop the import at the first row over the cap, before the rest of the file is read."""
    raise ImportFileError(413, "file.too_many_rows", f"The file has more than {max_rows} data rows.", row=row)


# --- CSV ---


def iter_csv_rows(
    source: IO[bytes], kind: str, codec: str, default_region: str | None, max_rows: int
) -> Iterator[RawRow]:
    """Stream a comma-separated file (RFC 4180 quoting, fields may hold quoted line breaks)."""
    records = iter_csv_records(iter_text_lines(source, codec, MAX_CSV_LINE_BYTES))
    return rows_from_records(records, kind, default_region, max_rows, text_only=True)


def iter_csv_records(lines: Iterator[str]) -> Iterator[list[str]]:
    """Parse CSV records; decoding and syntax failures become _RecordError for the row loop to place."""
    # strict: a stray quote must stop the import rather than silently merge or split rows.
    reader = csv.reader(lines, strict=True)
    try:
        yield from reader
    except UnicodeDecodeError:
        raise _RecordError(
            "file.encoding",
            "The file is not valid in its encoding; save it as UTF-8 or declare charset=GB18030.",
        ) from None
    except _LineTooLong:
        raise _RecordError(
            "csv.malformed", "A line is longer than 1 MiB or the file has no line breaks."
        ) from None
    except csv.Error:
        # csv.Error texts describe the syntax only, but a fixed message is safer and clearer.
        raise _RecordError(
            "csv.malformed", "The row is not valid CSV (unbalanced quotes or text after a closing quote)."
        ) from None


def iter_text_lines(source: IO[bytes], codec: str, max_line_bytes: int) -> Iterator[str]:
    """Yield decoded physical lines, line endings kept, each decoded on its own.

    Decoding line by line (instead of through io.TextIOWrapper's 8 KiB chunks) is what lets a decoding error
    be pinned to its row. It is sound because a LF byte never occurs inside a multi-byte UTF-8 or GB18030
    character. A UTF-8 BOM wins over the declared charset, as in browsers: it cannot start a GB18030 text.
    """
    read_line = partial(source.readline, max_line_bytes + 2)
    raw = read_line()
    if raw.startswith(_UTF8_BOM):
        codec, raw = "utf-8", raw[len(_UTF8_BOM) :]
    # A GB18030-encoded BOM decodes to U+FEFF like the UTF-8 one: drop it from the decoded first line.
    first = True
    while raw:
        if len(raw) > max_line_bytes and len(raw.rstrip(b"\r\n")) > max_line_bytes:
            raise _LineTooLong
        text = raw.decode(codec)
        yield text.removeprefix("\ufeff") if first else text
        first = False
        raw = read_line()


# --- XLSX ---


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


def inspect_archive(source: IO[bytes], limits: XlsxLimits) -> None:
    """Reject zip bombs, oversized archives and XML with DTDs before openpyxl touches the file."""
    try:
        count_zip_entries(source, limits.max_entries)
        source.seek(0)
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
            check_entry_sizes(infos, limits)
            for info in infos:
                check_xml_prolog(archive, info)
    except ImportFileError:
        raise
    except _ZIP_ERRORS:
        raise ImportFileError(422, "xlsx.malformed", "The workbook is not a valid XLSX (zip) file.") from None


# RuntimeError: an encrypted entry; ValueError and struct.error: corrupt or truncated headers.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    RuntimeError,
    ValueError,
    struct.error,
)
_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")


def count_zip_entries(source: IO[bytes], max_entries: int) -> None:
    """Count the central directory's entries without building them, stopping past the cap.

    zipfile.ZipFile builds an object per entry and trusts neither the declared count nor any limit, so a
    small upload packed with millions of empty entries would cost gigabytes before any check could run.
    """
    size = source.seek(0, io.SEEK_END)
    tail_start = max(0, size - _EOCD.size - 0xFFFF)
    source.seek(tail_start)
    tail = source.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        raise zipfile.BadZipFile
    _, _, _, _, declared, cd_size, _, _ = _EOCD.unpack_from(tail, at)
    directory_end = tail_start + at
    if at >= _EOCD64_LOCATOR.size and tail[at - _EOCD64_LOCATOR.size : at - 16] == b"PK\x06\x07":
        declared, cd_size, directory_end = read_zip64_directory(source, directory_end)
    if declared > max_entries:
        raise_too_many_entries(max_entries)
    source.seek(directory_end - cd_size)
    count = 0
    consumed = 0
    while consumed < cd_size:
        fields = _CENTRAL_HEADER.unpack(source.read(_CENTRAL_HEADER.size))
        if fields[0] != b"PK\x01\x02":
            raise zipfile.BadZipFile
        count += 1
        if count > max_entries:
            raise_too_many_entries(max_entries)
        skip = fields[10] + fields[11] + fields[12]
        source.seek(skip, io.SEEK_CUR)
        consumed += _CENTRAL_HEADER.size + skip


def read_zip64_directory(source: IO[bytes], locator_end: int) -> tuple[int, int, int]:
    """Return (entries, directory size, directory end) from a ZIP64 end record before the locator."""
    record_start = locator_end - _EOCD64_LOCATOR.size - _EOCD64.size
    if record_start < 0:
        raise zipfile.BadZipFile
    source.seek(record_start)
    fields = _EOCD64.unpack(source.read(_EOCD64.size))
    if fields[0] != b"PK\x06\x06":
        raise zipfile.BadZipFile
    return fields[7], fields[8], record_start


def raise_too_many_entries(max_entries: int) -> None:
    """Refuse an archive with more parts than any real workbook needs."""
    raise ImportFileError(413, "xlsx.too_many_entries", f"The workbook has more than {max_entries} parts.")


def check_entry_sizes(infos: Sequence[zipfile.ZipInfo], limits: XlsxLimits) -> None:
    """Bound the declared expanded size, in total and as a ratio per entry.

    Declared sizes suffice: zipfile stops decompressing an entry at its declared size and then fails the
    CRC check, so a lying header cannot make openpyxl inflate more than was checked here.
    """
    if len(infos) > limits.max_entries:
        raise_too_many_entries(limits.max_entries)
    total = 0
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # Excel writes only these; refusing the others narrows what untrusted input can reach.
            raise zipfile.BadZipFile
        total += info.file_size
        if total > limits.max_uncompressed_bytes:
            raise ImportFileError(
                413,
                "xlsx.too_large",
                f"The workbook expands to more than {limits.max_uncompressed_bytes // (1024 * 1024)} MiB.",
            )
        ratio_exceeded = info.file_size > info.compress_size * limits.max_compression_ratio
        if info.file_size > limits.ratio_floor_bytes and ratio_exceeded:
            raise ImportFileError(
                413,
                "xlsx.too_large",
                f"A part of the workbook expands more than {limits.max_compression_ratio}-fold (zip bomb).",
            )


def check_xml_prolog(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuse a part whose start declares a DTD or entities (billion laughs, XXE).

    Every part is probed, not only *.xml: relationships decide what gets parsed, whatever the name. NUL
    bytes are dropped so that UTF-16 XML is caught too. defusedxml, which openpyxl then uses, also refuses
    entities further in.
    """
    if info.is_dir():
        return
    with archive.open(info) as part:
        probe = part.read(_XML_PROBE_BYTES).replace(b"\x00", b"").lower()
    if b"<!doctype" in probe or b"<!entity" in probe:
        raise ImportFileError(
            422, "xlsx.forbidden_xml", "The workbook contains XML with a document type or entity declaration."
        )


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


def iter_sheet_records(sheet: ReadOnlyWorksheet) -> Iterator[list[_Cell]]:
    """Yield each sheet row as cells; openpyxl's failures while parsing become _RecordError."""
    rows = sheet.rows
    while True:
        try:
            cells = next(rows)
        except StopIteration:
            return
        except Exception as exc:
            if is_forbidden_xml(exc):
                raise _RecordError(
                    "xlsx.forbidden_xml", "The worksheet contains a document type or entity declaration."
                ) from None
            raise _RecordError("xlsx.malformed", "The worksheet XML is broken.") from None
        yield [convert_sheet_cell(cell) for cell in cells]


def convert_sheet_cell(cell: _SheetCell) -> _Cell:
    """Turn a cell into the text a user typed: dates as YYYY-MM-DD, whole numbers without '.0'."""
    value = cell.value
    if value is None:
        return None
    if cell.data_type == "e":
        return _NotText("a spreadsheet error value")
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return _NotText("a true/false value")
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
        return _NotText("a duration")
    return _NotText("an unsupported value")


def format_number(value: float) -> str:
    """Write a whole float as an integer (Excel stores 3 as 3.0), any other as its shortest repr."""
    return str(int(value)) if value.is_integer() else repr(value)


# --- JSON Lines ---


def iter_jsonl_rows(
    source: IO[bytes], kind: str, codec: str, default_region: str | None, max_rows: int
) -> Iterator[RawRow]:
    """Stream one JSON object per line; blank lines are skipped and not counted."""
    lines = iter_text_lines(source, codec, MAX_JSONL_LINE_BYTES)
    template: dict[str, str | None] = dict.fromkeys(COLUMNS[kind])
    row = 0
    while True:
        try:
            text = next(lines)
        except StopIteration:
            break
        except UnicodeDecodeError:
            raise ImportFileError(
                422, "file.encoding", "The line is not valid UTF-8 (or the declared charset).", row=row + 1
            ) from None
        except _LineTooLong:
            raise ImportFileError(
                422, "jsonl.malformed", "The line is longer than 64 KiB.", row=row + 1
            ) from None
        if not text.strip():
            continue
        row += 1
        if row > max_rows:
            raise_too_many_rows(max_rows, row)
        yield parse_json_row(text, row, template, default_region)
    if row == 0:
        raise ImportFileError(422, "file.empty", "The file is empty.")


def parse_json_row(
    text: str, row: int, template: dict[str, str | None], default_region: str | None
) -> RawRow:
    """Turn one JSON line into a RawRow; keys are matched like header names, but per line."""
    pairs = load_json_object(text, row)
    values = template.copy()
    problems: list[RowProblem] = []
    unknown: list[str] = []
    seen: set[str] = set()
    for key, value in pairs:
        name = normalize_column_name(key)
        if name not in values:
            unknown.append(name)
            continue
        if name in seen:
            problems.append(RowProblem(name, "row.duplicate_keys", f"The key {name} appears more than once."))
        seen.add(name)
        converted = convert_json_value(name, value)
        if isinstance(converted, _NotText):
            problems.append(RowProblem(name, "cell.not_text", f"The value is {converted.what}, not text."))
        else:
            values[name] = converted
    if unknown:
        problems.append(RowProblem(None, "row.unknown_keys", describe_unknown_keys(unknown)))
    if default_region is not None and values["region"] is None:
        values["region"] = default_region
    return RawRow(row, values, tuple(problems))


def load_json_object(text: str, row: int) -> _Pairs:
    """Parse a line that must hold one JSON object; NaN and Infinity are not JSON and are refused."""
    try:
        parsed: object = json.loads(text, object_pairs_hook=_Pairs, parse_constant=reject_json_constant)
    except (ValueError, RecursionError):
        # The decoder's message quotes no content, but its position is useless to an admin: say it plainly.
        raise ImportFileError(422, "jsonl.malformed", "The line is not valid JSON.", row=row) from None
    if not isinstance(parsed, _Pairs):
        raise ImportFileError(422, "jsonl.malformed", "The line is not a JSON object.", row=row)
    return parsed


def reject_json_constant(name: str) -> object:
    """Refuse NaN, Infinity and -Infinity, which json accepts by default."""
    raise ValueError("not JSON")


def convert_json_value(column: str, value: object) -> _Cell:
    """Give a JSON value the text form a CSV cell would have; lists only for list columns."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, _Pairs):
        return _NotText("a nested object")
    if isinstance(value, list):
        return join_json_list(value) if column in LIST_COLUMNS else _NotText("a list")
    return convert_json_scalar(value)


def convert_json_scalar(value: object) -> _Cell:
    """Numbers become their text; true/false is refused rather than guessed at."""
    if isinstance(value, bool):
        return _NotText("a true/false value")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    return _NotText("an unsupported value")


def join_json_list(items: list[object]) -> _Cell:
    """Join a list of scalars with the list separator, as the column is written in CSV."""
    parts: list[str] = []
    for item in items:
        text = item.strip() if isinstance(item, str) else convert_json_scalar(item)
        if isinstance(text, _NotText):
            return _NotText("a list holding something other than text or numbers")
        if text:
            parts.append(text)
    return LIST_SEPARATOR.join(parts) or None


def describe_unknown_keys(names: Sequence[str]) -> str:
    """List the unknown keys that are safe to echo and count the others."""
    echoable = [name for name in names if _ECHOABLE_NAME.fullmatch(name)]
    hidden = len(names) - len(echoable)
    parts = [", ".join(echoable)] if echoable else []
    if hidden:
        parts.append(f"{hidden} other key(s)")
    return f"Unknown keys: {'; '.join(parts)}; see the template for the column names."


# --- template and error report ---


def render_template(kind: str) -> str:
    """Return the CSV template of a kind: the header and one example row of valid, fictitious data.

    It starts with a BOM because Excel opens BOM-less UTF-8 CSV as the ANSI code page and garbles the
    Chinese; every reader of this module strips it.
    """
    columns = COLUMNS[kind]
    example = build_example_row(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerow([example.get(column, "") for column in columns])
    return "\ufeff" + buffer.getvalue()


def build_example_row(kind: str) -> dict[str, str]:
    """Fictitious values that pass every domain check; check characters are computed, never typed."""
    # 510104 = 成都市锦江区, born 1985-03-12, sequence 123 (odd: male).
    resident_id = "51010419850312123"
    resident_id += compute_resident_id_check(resident_id)
    common = {
        "region": "SC",
        "holder_name": "张三",
        "holder_id_type": "resident_id",
        "holder_id_number": resident_id,
        "issuer_level": "province",
    }
    if kind == "title":
        usci = "11510000MB0A12345"  # 11 = organ of government, 510000 = Sichuan
        return common | {
            "number": "SCZC2024000123",
            "issuer_name": "示例省人力资源和社会保障厅",
            "issuer_usci": usci + compute_uscc_check(usci),
            "issued_on": "2024-06-30",
            "valid_from": "2024-06-30",
            "title_code": "0502",
            "specialty": "电气工程",
            "obtained_on": "2024-05-20",
            "approval_no": "示人社职〔2024〕12号",
            "review_body": "示例工程技术系列高级职称评审委员会",
        }
    if kind == "skill":
        usci = "52510100MJ0A12345"  # 52 = social organisation, 510100 = Chengdu
        # S + evaluator 0000 + province 51 + site 000123 + year 24 + level 3 + serial 000456.
        return common | {
            "number": "S00005100012324" + "3" + "000456",
            "issuer_name": "示例职业技能等级认定中心",
            "issuer_usci": usci + compute_uscc_check(usci),
            "issuer_level": "city",
            "issued_on": "2024-09-15",
            "occupation_code": "6-31-01-03",
            "occupation_name": "机床装调维修工",
            "level": "3",
            "work_type": "数控机床装调维修工",
        }
    if kind == "card":
        usci = "11510000MB0A12345"
        return common | {
            "number": "TF2024000001",
            "issuer_name": "示例省人才工作领导小组办公室",
            "issuer_usci": usci + compute_uscc_check(usci),
            "issued_on": "2024-07-01",
            "valid_from": "2024-07-01",
            "valid_until": "2027-06-30",
            "card_system": "sc-tianfu",
            "card_class": "A",
            "entitlements": LIST_SEPARATOR.join(("hukou", "housing", "healthcare")),
        }
    raise ValueError(f"unknown kind {kind!r}")


_FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")


def escape_csv_cell(value: str) -> str:
    """Defuse a cell of the error-report CSV so that spreadsheets show it instead of running it (OWASP)."""
    return "'" + value if value.startswith(_FORMULA_TRIGGERS) else value
