"""The zip container of an XLSX upload, checked before openpyxl reads it: zip bombs (entry count, expanded
size, compression ratio) and XML with DTDs or entities are refused without inflating anything large.

A hand-written count of the central directory comes first, because zipfile itself builds an object per entry
before any limit could be checked."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Final

from app.imports.raw_rows import ImportFileError

_XML_PROBE_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class XlsxLimits:
    """Bounds checked on the zip container before any XML is parsed."""

    max_entries: int = 10_000
    max_uncompressed_bytes: int = 512 * 1024 * 1024
    max_compression_ratio: int = 200
    # Small parts (styles, relationships) legitimately compress very well; a part below this size cannot do
    # harm through its ratio, and the total above still bounds them all together.
    ratio_floor_bytes: int = 1024 * 1024


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
