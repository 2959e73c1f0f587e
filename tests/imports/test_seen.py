"""InFileKeys against a plain model of the same checks: the same repeated numbers and renamed holders."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.imports.seen import FLUSH_ROWS, InFileKeys, Repeat


def digest(value: int) -> bytes:
    return hashlib.blake2b(str(value).encode(), digest_size=16).digest()


def model(rows: list[tuple[int, int, int]]) -> tuple[list[Repeat], list[Repeat]]:
    """What checking each row against the rows before it finds (the inline check this replaced)."""
    numbers: dict[int, int] = {}
    holders: dict[int, tuple[int, int]] = {}
    repeated, renamed = [], []
    for row, (number, holder, name) in enumerate(rows, start=1):
        first = numbers.setdefault(number, row)
        if first != row:
            repeated.append(Repeat(first, row))
        first, first_name = holders.setdefault(holder, (row, name))
        if first_name != name:
            renamed.append(Repeat(first, row))
    return repeated, renamed


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 2)), max_size=300))
def test_in_file_keys_find_what_a_row_by_row_check_finds(
    tmp_path: Path, rows: list[tuple[int, int, int]]
) -> None:
    keys = InFileKeys(tmp_path / "seen")
    try:
        # The first rows one by one, the others as chunks of a few rows (the columnar validation's way).
        half = len(rows) // 2
        for row, (number, holder, name) in enumerate(rows[:half], start=1):
            keys.add(row, f"SC\x1f{number}", digest(holder), f"name {name}")
        for start in range(half, len(rows), 7):
            part = list(enumerate(rows[start : start + 7], start=start + 1))
            keys.add_many(
                [row for row, _ in part],
                [f"SC\x1f{number}" for _, (number, _, _) in part],
                [digest(holder) for _, (_, holder, _) in part],
                [f"name {name}" for _, (_, _, name) in part],
            )
        assert keys.find_repeats() == model(rows)
    finally:
        keys.close()
    assert not (tmp_path / "seen").exists()


def test_keys_are_flushed_in_batches_and_the_file_is_private(tmp_path: Path) -> None:
    keys = InFileKeys(tmp_path / "seen")
    try:
        assert (tmp_path / "seen").stat().st_mode & 0o077 == 0
        span = 2 * FLUSH_ROWS
        for row in range(1, span + 2001):  # more than two flushes
            keys.add(row, str(row % span), digest(row), "张三")
        numbers, renamed = keys.find_repeats()
    finally:
        keys.close()
    assert numbers == [Repeat(row - span, row) for row in range(span + 1, span + 2001)]
    assert renamed == []


def test_names_and_numbers_cannot_be_found_again_by_hashing_guesses(tmp_path: Path) -> None:
    keys = InFileKeys(tmp_path / "seen")
    try:
        keys.add(1, "SC\x1fT-0001", digest(1), "张三")
        keys.add_permit(1, "T-0001", digest(1))
        keys.flush()
        stored = b"".join(part.read_bytes() for part in (tmp_path / "seen").iterdir())
    finally:
        keys.close()
    assert stored
    for text in ("张三", "SC\x1fT-0001", "T-0001"):
        unkeyed = hashlib.blake2b(text.encode(), digest_size=16).digest()
        assert text.encode() not in stored
        assert unkeyed not in stored
        assert unkeyed.hex().encode() not in stored


def test_the_digest_is_the_keyed_blake2b_of_the_text(tmp_path: Path) -> None:
    keys = InFileKeys(tmp_path / "seen")
    try:
        for text in ("张三", "SC\x1fT-0001", "", "\ud800"):
            expected = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16, key=keys.secret)
            assert keys.digest(text) == expected.digest()
    finally:
        keys.close()
