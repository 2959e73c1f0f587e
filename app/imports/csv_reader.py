"""CSV uploads: RFC 4180 records, decoded line by line, mapped by the shared table logic."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO, Final

from app.imports.raw_rows import LineTooLong, RawRow, RecordError
from app.imports.tabular import rows_from_records
from app.imports.text_lines import iter_text_lines

# No sane CSV line of ~20 short columns comes near 1 MiB; the bound keeps a file without line breaks (or with
# old-Mac bare CR endings) from being held in memory as one "line". Quoted fields are bounded separately by
# csv.field_size_limit() (128 Ki characters).
MAX_CSV_LINE_BYTES: Final = 1024 * 1024


def iter_csv_rows(
    source: IO[bytes], kind: str, codec: str, default_region: str | None, max_rows: int
) -> Iterator[RawRow]:
    """Stream a comma-separated file (RFC 4180 quoting, fields may hold quoted line breaks)."""
    records = iter_csv_records(iter_text_lines(source, codec, MAX_CSV_LINE_BYTES))
    return rows_from_records(records, kind, default_region, max_rows, text_only=True)


def iter_csv_records(lines: Iterator[str]) -> Iterator[list[str]]:
    """Parse CSV records; decoding and syntax failures become RecordError for the row loop to place."""
    # strict: a stray quote must stop the import rather than silently merge or split rows.
    reader = csv.reader(lines, strict=True)
    try:
        yield from reader
    except UnicodeDecodeError:
        raise RecordError(
            "file.encoding",
            "The file is not valid in its encoding; save it as UTF-8 or declare charset=GB18030.",
        ) from None
    except LineTooLong:
        raise RecordError(
            "csv.malformed", "A line is longer than 1 MiB or the file has no line breaks."
        ) from None
    except csv.Error:
        # csv.Error texts describe the syntax only, but a fixed message is safer and clearer.
        raise RecordError(
            "csv.malformed", "The row is not valid CSV (unbalanced quotes or text after a closing quote)."
        ) from None
