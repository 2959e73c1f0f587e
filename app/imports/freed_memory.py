"""Giving the memory an import's block freed back to the system before the next block.

glibc keeps freed memory in its heaps for reuse. An import allocates a block's text and lines on the event
loop's thread and its statements' values on the database driver's thread, each in that thread's own heap,
and frees them while the other thread's next block is already allocating: the freed space was seldom the
space reused, and the process's peak memory (RSS) grew by about 20 MB (1M rows into SQLite; bench/RESULTS.md).
`malloc_trim` returns every heap's free pages. It is glibc's own call; elsewhere (musl, macOS) this does
nothing.
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import Any


@cache
def find_malloc_trim() -> Any:
    """glibc's malloc_trim, from the C library the process already has loaded; None elsewhere."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def trim_freed_memory() -> None:
    """Free pages of every heap of the process back to the system."""
    trim = find_malloc_trim()
    if trim is not None:
        trim(0)
