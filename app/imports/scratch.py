"""The scratch file between an import's two passes, read back in blocks of whole lines.

Its lines are written by app.imports.validation_pass in the format of app.imports.staging.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from pathlib import Path

from app.imports.staging import row_of_line


def scratch_path(upload: Path) -> Path:
    return upload.with_suffix(upload.suffix + ".clean.tsv")


def read_blocks(path: Path, rejected: Set[int], block_bytes: int) -> Iterator[tuple[bytes, int]]:
    """The scratch file as blocks of whole lines, each with its number of lines, less the rows rejected after
    they were written (a duplicate later in the file, with on_error=skip).

    Read as bytes, never as a str per line: a million short-lived line objects cost more time than the
    COPY and left the process ~100 MB larger (allocator fragmentation). Only when rows were rejected after
    they were written are the lines split.
    """
    rest = b""
    with path.open("rb") as scratch:
        while block := scratch.read(block_bytes):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            chunk, rest = block[:cut], block[cut:]
            if rejected:
                chunk = b"".join(
                    line for line in chunk.splitlines(keepends=True) if row_of_line(line) not in rejected
                )
            if chunk:
                yield chunk, chunk.count(b"\n")
    if rest:
        raise RuntimeError("the scratch file does not end with a line break")
