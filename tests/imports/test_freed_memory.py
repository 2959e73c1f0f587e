"""Freed memory goes back to the system between an import's blocks, where the C library can do it."""

from __future__ import annotations

import platform

import pytest

from app.imports.freed_memory import find_malloc_trim, trim_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_gives_freed_memory_back() -> None:
    assert find_malloc_trim() is not None
    kept = [bytearray(1 << 20) for _ in range(32)]
    del kept
    trim_freed_memory()  # returns; what it gives back is measured in bench/, not here


class OtherLibc:
    """A C library without malloc_trim (musl's, macOS's)."""

    def __init__(self, name: object) -> None:
        pass


def test_without_glibc_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.imports.freed_memory.ctypes.CDLL", OtherLibc)
    find_malloc_trim.cache_clear()
    try:
        assert find_malloc_trim() is None
        trim_freed_memory()
    finally:
        find_malloc_trim.cache_clear()
