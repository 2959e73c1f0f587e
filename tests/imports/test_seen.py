"""FirstSeen against a dict: the same first rows and tags through growth and probe collisions."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.imports.seen import FirstSeen


def digest(value: int) -> bytes:
    return hashlib.blake2b(str(value).encode(), digest_size=16).digest()


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 3)), max_size=2000))
def test_first_seen_behaves_like_a_dict(sightings: list[tuple[int, int]]) -> None:
    seen, model = FirstSeen(tag_bytes=2, capacity=4), dict[bytes, tuple[int, bytes]]()
    for row, (key, tag) in enumerate(sightings, start=1):
        entry = (row, tag.to_bytes(2, "little"))
        assert seen.setdefault(digest(key), *entry) == model.setdefault(digest(key), entry)
    assert len(seen) == len(model)


def test_keys_that_share_a_slot_are_kept_apart() -> None:
    seen = FirstSeen(capacity=4)
    same_start = [bytes([1] * 8 + [n] * 8) for n in range(2)]  # equal first 8 bytes: the same home slot
    assert seen.setdefault(same_start[0], 1) == (1, b"")
    assert seen.setdefault(same_start[1], 2) == (2, b"")
    assert seen.setdefault(same_start[0], 3) == (1, b"")


@pytest.mark.parametrize(
    ("key", "row", "tag"), [(b"short", 1, b""), (bytes(16), 0, b""), (bytes(16), 1, b"x")]
)
def test_bad_entries_are_refused(key: bytes, row: int, tag: bytes) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        FirstSeen().setdefault(key, row, tag)
