"""The in-file duplicate indexes of an import, kept in flat memory so that millions of rows fit.

A dict from a 16-byte digest to the first row costs ~140 bytes a key in CPython (two objects and a slot);
an import of 10 million rows needs two such indexes. FirstSeen keeps each key in one fixed-size slot of a
bytearray (linear probing, at most 60 % full, doubled when it gets there): 20-byte slots for the numbers and
36-byte ones for the holders (with a name digest), so 1.7 to 3.3 slots a key.
"""

from __future__ import annotations

from typing import Final

_ROW_BYTES: Final = 4  # row numbers are capped far below 2**32 (HUREN_IMPORT_MAX_ROWS); slots index 16:20
_EMPTY_ROW: Final = bytes(_ROW_BYTES)  # rows start at 1, so row 0 marks a free slot
_MAX_FILL: Final = 0.6


class FirstSeen:
    """Remembers, per 16-byte key, the first row that had it and a fixed-size tag of that row."""

    def __init__(self, tag_bytes: int = 0, capacity: int = 1 << 16) -> None:
        if capacity & (capacity - 1):
            raise ValueError("capacity must be a power of two")
        self.tag_bytes = tag_bytes
        self.slot = 16 + _ROW_BYTES + tag_bytes
        self.mask = capacity - 1
        self.used = 0
        self.slots = bytearray(capacity * self.slot)

    def __len__(self) -> int:
        return self.used

    def setdefault(self, key: bytes, row: int, tag: bytes = b"") -> tuple[int, bytes]:
        """(row, tag) of the key's first sighting; when this is it, they are stored and handed back."""
        entry = key + row.to_bytes(_ROW_BYTES, "little") + tag
        if len(entry) != self.slot or len(key) != 16 or row <= 0:
            raise ValueError("a key has 16 bytes, a tag its fixed size, a row fits in 4 bytes and is > 0")
        if self.used >= (self.mask + 1) * _MAX_FILL:
            self.grow()
        slots, slot, mask = self.slots, self.slot, self.mask
        start = (int.from_bytes(key[:8], "little") & mask) * slot
        while True:
            if slots[start + 16 : start + 20] == _EMPTY_ROW:
                slots[start : start + slot] = entry
                self.used += 1
                return row, tag
            if slots[start : start + 16] == key:
                return int.from_bytes(slots[start + 16 : start + 20], "little"), bytes(
                    slots[start + 20 : start + slot]
                )
            start = (start + slot) % len(slots)

    def grow(self) -> None:
        """Double the table and put every key back (keys are digests, so their bits spread evenly)."""
        old, slot = self.slots, self.slot
        self.mask = self.mask * 2 + 1
        self.slots = bytearray((self.mask + 1) * slot)
        self.used = 0
        for start in range(0, len(old), slot):
            row = old[start + 16 : start + 16 + _ROW_BYTES]
            if row != _EMPTY_ROW:
                self.place(bytes(old[start : start + slot]))

    def place(self, entry: bytes) -> None:
        slots, slot = self.slots, self.slot
        index = int.from_bytes(entry[:8], "little") & self.mask
        while slots[index * slot + 16 : index * slot + 16 + _ROW_BYTES] != _EMPTY_ROW:
            index = (index + 1) & self.mask
        slots[index * slot : (index + 1) * slot] = entry
        self.used += 1
