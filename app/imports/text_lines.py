"""Decoded physical lines of a text upload (CSV, JSON Lines), one line at a time so errors keep their row."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from types import MappingProxyType
from typing import IO, Final

from app.imports.raw_rows import ImportFileError, LineTooLong

UTF8_BOM: Final = b"\xef\xbb\xbf"

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


def iter_text_lines(source: IO[bytes], codec: str, max_line_bytes: int) -> Iterator[str]:
    """Yield decoded physical lines, line endings kept, each decoded on its own.

    Decoding line by line (instead of through io.TextIOWrapper's 8 KiB chunks) is what lets a decoding error
    be pinned to its row. It is sound because a LF byte never occurs inside a multi-byte UTF-8 or GB18030
    character. A UTF-8 BOM wins over the declared charset, as in browsers: it cannot start a GB18030 text.
    """
    read_line = partial(source.readline, max_line_bytes + 2)
    raw = read_line()
    if raw.startswith(UTF8_BOM):
        codec, raw = "utf-8", raw[len(UTF8_BOM) :]
    # A GB18030-encoded BOM decodes to U+FEFF like the UTF-8 one: drop it from the decoded first line.
    first = True
    while raw:
        if len(raw) > max_line_bytes and len(raw.rstrip(b"\r\n")) > max_line_bytes:
            raise LineTooLong
        text = raw.decode(codec)
        yield text.removeprefix("\ufeff") if first else text
        first = False
        raw = read_line()
