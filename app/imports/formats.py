"""Which format an upload is: the file name's extension, the declared media type and the first bytes must
agree."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

from app.imports.raw_rows import ImportFileError
from app.imports.text_lines import UTF8_BOM

ImportFormat = Literal["csv", "xlsx", "jsonl"]

ZIP_MAGIC: Final = b"PK\x03\x04"
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
    text = head.removeprefix(UTF8_BOM).lstrip()
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
