"""Bitstring Status List: vectors (LSB-first trap), round trips, errors, bombs, allocation, status entries."""

from __future__ import annotations

import base64
import gzip
import json
import random
import struct
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cards.status_list import (
    MIN_ENTRIES,
    Bitstring,
    StatusListError,
    StatusReference,
    allocate_index,
    parse_credential_status,
)

VECTORS = Path(__file__).parent.parent / "vectors" / "bitstring-status-list"
ENCODED_LISTS: dict[str, dict[str, Any]] = json.loads((VECTORS / "encoded_lists.json").read_text("utf-8"))[
    "vectors"
]
FIXTURES = sorted((VECTORS / "w3c-test-suite-fixtures").glob("*.jsonld"))
TRAP = "dbz_mock_100k_50000set_multibase"


def _encoded_for_spec_decoder(vector: dict[str, Any]) -> str:
    # Two Digital Bazaar constants predate the multibase prefix; the decoder insists on it (tested below).
    encoded: str = vector["encodedList"]
    return encoded if vector["multibase"] else "u" + encoded


def _lsb_first_indices(data: bytes) -> list[int]:
    """The legacy (wrong) reading: index i is bit i % 8 counted from the least significant end."""
    return [i * 8 + bit for i, byte in enumerate(data) if byte for bit in range(8) if byte >> bit & 1]


def _reference_msb_indices(data: bytes) -> list[int]:
    """An independent per-bit reading of the spec order, for comparison with Bitstring.set_indices."""
    return [i for i in range(len(data) * 8) if data[i // 8] >> (7 - i % 8) & 1]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _error_code(encoded: str, **kwargs: int) -> str:
    with pytest.raises(StatusListError) as caught:
        Bitstring.decode(encoded, **kwargs)
    return caught.value.code


# --- vectors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENCODED_LISTS))
def test_vector_decodes_to_its_listed_indices(name: str) -> None:
    vector = ENCODED_LISTS[name]
    bits = Bitstring.decode(
        _encoded_for_spec_decoder(vector), min_entries=min(MIN_ENTRIES, vector["decoded_bits"])
    )
    assert bits.size == vector["decoded_bits"]
    assert bits.set_indices() == vector["set_indices"]
    assert bits.count() == len(vector["set_indices"])
    assert _reference_msb_indices(bits.to_bytes()) == vector["set_indices"]
    for index in vector["set_indices"]:
        assert bits.get(index)


def test_vector_file_marks_exactly_one_trap() -> None:
    trapped = [name for name, vector in ENCODED_LISTS.items() if vector["expected"].startswith("TRAP")]
    assert trapped == [TRAP]


def test_lsb_first_trap_is_read_in_spec_order() -> None:
    bits = Bitstring.decode(ENCODED_LISTS[TRAP]["encodedList"], min_entries=100_000)
    # Named "50K-th revoked", but the producer wrote bits LSB-first: the spec's reading is index 50007.
    assert bits.get(50_007) is True
    assert bits.get(50_000) is False
    assert bits.set_indices() == [50_007]
    assert _lsb_first_indices(bits.to_bytes()) == [50_000]  # what a naive LSB-first reader would report


def test_spec_ordered_50000_vector_sets_the_left_most_bit_of_byte_6250() -> None:
    bits = Bitstring.decode(
        "u" + ENCODED_LISTS["dbz_100k_50000set_nomultibase"]["encodedList"], min_entries=100_000
    )
    assert bits.to_bytes()[6250] == 0x80
    assert _lsb_first_indices(bits.to_bytes()) == [50_007]


@pytest.mark.parametrize("name", sorted(name for name, v in ENCODED_LISTS.items() if not v["multibase"]))
def test_vectors_without_multibase_prefix_are_refused_as_given(name: str) -> None:
    assert _error_code(ENCODED_LISTS[name]["encodedList"], min_entries=100_000) == "status_list.prefix"


@pytest.mark.parametrize(
    "name", sorted(n for n, v in ENCODED_LISTS.items() if v["decoded_bits"] < MIN_ENTRIES)
)
def test_vectors_below_the_spec_minimum_are_refused_by_default(name: str) -> None:
    assert _error_code(_encoded_for_spec_decoder(ENCODED_LISTS[name])) == "status_list.too_short"


def test_w3c_spec_example_is_the_minimum_size_all_zero_list() -> None:
    bits = Bitstring.decode(ENCODED_LISTS["w3c_spec_example_revocation"]["encodedList"])
    assert bits == Bitstring()
    assert not any(bits.get(i) for i in (0, 1, 201, MIN_ENTRIES - 1))


# --- bit operations -------------------------------------------------------------------------------------


def test_index_zero_is_the_most_significant_bit_of_the_first_byte() -> None:
    bits = Bitstring()
    bits.set(0)
    bits.set(9)
    bits.set(MIN_ENTRIES - 1)
    data = bits.to_bytes()
    assert data[0] == 0x80
    assert data[1] == 0x40
    assert data[-1] == 0x01
    assert bits.set_indices() == [0, 9, MIN_ENTRIES - 1]


def test_set_and_clear() -> None:
    bits = Bitstring()
    bits.set(12_345)
    bits.set(12_346)
    assert bits.get(12_345)
    bits.set(12_345, False)
    assert not bits.get(12_345)
    assert bits.get(12_346)
    bits.set(12_346, False)
    assert bits == Bitstring()


def test_set_many_sets_and_clears_and_accepts_any_iterable() -> None:
    bits = Bitstring()
    bits.set_many(i for i in (5, 7, 5, 100_000))
    assert bits.set_indices() == [5, 7, 100_000]
    bits.set_many({7, 100_000}, value=False)
    assert bits.set_indices() == [5]
    bits.set_many([])
    assert bits.set_indices() == [5]


@pytest.mark.parametrize("bad", [[1, -1], [1, MIN_ENTRIES], [1, True], [1, 2.0]])
def test_set_many_refuses_a_bad_index_without_changing_anything(bad: list[Any]) -> None:
    bits = Bitstring()
    with pytest.raises(StatusListError) as caught:
        bits.set_many(bad)
    assert caught.value.code == "status_list.index"
    assert bits.count() == 0


@pytest.mark.parametrize("index", [-1, MIN_ENTRIES, 2**70, True, 1.0, "1"])
def test_get_and_set_refuse_bad_indices(index: Any) -> None:
    bits = Bitstring()
    for operation in (bits.get, bits.set):
        with pytest.raises(StatusListError) as caught:
            operation(index)
        assert caught.value.code == "status_list.index"


def test_multi_bit_values_read_left_most_bit_first() -> None:
    bits = Bitstring()
    # Entry 3 of a 2-bit list covers bits 6 and 7; entry 5 of a 3-bit list covers bits 15..17 (spans a byte).
    bits.set_many([6, 15, 17])
    assert bits.value(3, size=2) == 0b10
    assert bits.value(5, size=3) == 0b101
    assert bits.value(6) == 1
    assert bits.value(0, size=8) == 0b00000010
    assert bits.value(MIN_ENTRIES // 16 - 1, size=16) == 0


@pytest.mark.parametrize(
    ("index", "size", "code"), [(0, 0, "size"), (-1, 1, "index"), (MIN_ENTRIES // 2, 2, "index")]
)
def test_multi_bit_value_errors(index: int, size: int, code: str) -> None:
    with pytest.raises(StatusListError) as caught:
        Bitstring().value(index, size)
    assert caught.value.code == f"status_list.{code}"


@pytest.mark.parametrize(
    ("size", "code"),
    [
        (MIN_ENTRIES + 1, "size"),
        (0, "size"),
        (-8, "size"),
        (MIN_ENTRIES - 8, "too_short"),
        (2**40, "too_large"),
    ],
)
def test_constructor_size_rules(size: int, code: str) -> None:
    with pytest.raises(StatusListError) as caught:
        Bitstring(size)
    assert caught.value.code == f"status_list.{code}"


def test_from_bytes_copies_and_honours_the_minimum() -> None:
    raw = bytearray(MIN_ENTRIES // 8)
    bits = Bitstring.from_bytes(bytes(raw))
    raw[0] = 0xFF
    assert bits.count() == 0
    assert Bitstring.from_bytes(b"\x01", min_entries=8).set_indices() == [7]
    with pytest.raises(StatusListError) as caught:
        Bitstring.from_bytes(b"\x00" * 100)
    assert caught.value.code == "status_list.too_short"


def test_error_pickles_and_prints_its_message() -> None:
    import pickle

    error = StatusListError("status_list.index", "status list index out of range")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (copy.code, copy.message, str(copy)) == (
        error.code,
        error.message,
        "status list index out of range",
    )


# --- encoding -------------------------------------------------------------------------------------------


def test_encoding_is_gzip_base64url_without_padding_with_prefix_u() -> None:
    bits = Bitstring()
    bits.set(201)
    encoded = bits.encode()
    assert encoded.startswith("uH4sI")  # "u" + base64url of the GZIP magic 1f 8b 08
    assert not set("=+/") & set(encoded)
    raw = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    assert gzip.decompress(raw) == bits.to_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # GZIP MTIME is zero


def test_encoding_is_deterministic() -> None:
    first, second = Bitstring(), Bitstring()
    first.set_many([3, 99_999])
    second.set(99_999)
    second.set(3)
    assert first.encode() == second.encode()
    assert first.encode() == Bitstring.decode(first.encode()).encode()


@settings(max_examples=40, deadline=None)
@given(
    extra_bytes=st.integers(min_value=0, max_value=4096),
    data=st.data(),
)
def test_round_trip_of_random_lists(extra_bytes: int, data: st.DataObject) -> None:
    size = MIN_ENTRIES + 8 * extra_bytes
    indices = data.draw(st.sets(st.integers(min_value=0, max_value=size - 1), max_size=200))
    bits = Bitstring(size)
    bits.set_many(indices)
    decoded = Bitstring.decode(bits.encode())
    assert decoded == bits
    assert decoded.size == size
    assert decoded.set_indices() == sorted(indices)
    assert all(decoded.get(i) for i in indices)


@settings(max_examples=25, deadline=None)
@given(raw=st.binary(min_size=1, max_size=64).map(lambda b: b * 8))
def test_round_trip_of_arbitrary_bytes_matches_a_per_bit_reading(raw: bytes) -> None:
    bits = Bitstring.from_bytes(raw, min_entries=8)
    decoded = Bitstring.decode(bits.encode(), min_entries=8)
    assert decoded.to_bytes() == raw
    assert decoded.set_indices() == _reference_msb_indices(raw)


def test_million_entries_with_ten_thousand_set_round_trip() -> None:
    size = 1_000_000
    indices = random.Random(6).sample(range(size), 10_000)
    bits = Bitstring(size)
    bits.set_many(indices)
    encoded = bits.encode()
    decoded = Bitstring.decode(encoded)
    assert decoded.size == size
    assert decoded.set_indices() == sorted(indices)
    assert decoded.count() == 10_000
    assert decoded.encode() == encoded


# --- decoding errors ------------------------------------------------------------------------------------

EMPTY_LIST = Bitstring().encode()


@pytest.mark.parametrize(
    "encoded",
    ["", EMPTY_LIST[1:], "U" + EMPTY_LIST[1:], "z" + EMPTY_LIST[1:], "m" + EMPTY_LIST[1:], " " + EMPTY_LIST],
)
def test_missing_or_other_multibase_prefix_is_refused(encoded: str) -> None:
    assert _error_code(encoded) == "status_list.prefix"


def test_non_string_is_refused() -> None:
    with pytest.raises(StatusListError) as caught:
        Bitstring.decode(EMPTY_LIST.encode())  # type: ignore[arg-type]
    assert caught.value.code == "status_list.prefix"


@pytest.mark.parametrize(
    "encoded",
    [
        EMPTY_LIST + "=",
        EMPTY_LIST + "==",
        EMPTY_LIST[:10] + "+" + EMPTY_LIST[11:],
        EMPTY_LIST[:10] + "/" + EMPTY_LIST[11:],
        EMPTY_LIST[:10] + " " + EMPTY_LIST[11:],
        EMPTY_LIST + "\n",
        "uA",  # one character short of a byte (length % 4 == 1)
        "u" + "A" * 5,
        "uH4sI\u00e9AAA",
    ],
)
def test_bad_base64url_is_refused(encoded: str) -> None:
    assert _error_code(encoded) == "status_list.base64"


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # nothing at all
        bytes(MIN_ENTRIES // 8),  # uncompressed bits
        zlib.compress(bytes(MIN_ENTRIES // 8)),  # zlib wrapper, not GZIP
        gzip.compress(bytes(MIN_ENTRIES // 8), mtime=0)[:-12],  # truncated stream
        gzip.compress(bytes(MIN_ENTRIES // 8), mtime=0) + b"junk",  # trailing data
        gzip.compress(bytes(MIN_ENTRIES // 8), mtime=0)[:-8] + b"\x00" * 8,  # wrong CRC and size
    ],
)
def test_data_that_is_not_one_gzip_stream_is_refused(payload: bytes) -> None:
    assert _error_code("u" + _b64url(payload)) == "status_list.gzip"


def test_too_short_and_too_large_lists_are_refused() -> None:
    short = "u" + _b64url(gzip.compress(bytes(MIN_ENTRIES // 8 - 1), mtime=0))
    assert _error_code(short) == "status_list.too_short"
    assert Bitstring.decode(short, min_entries=MIN_ENTRIES - 8).size == MIN_ENTRIES - 8
    assert _error_code(EMPTY_LIST, max_bytes=MIN_ENTRIES // 8 - 1) == "status_list.too_large"
    assert Bitstring.decode(EMPTY_LIST, max_bytes=MIN_ENTRIES // 8).size == MIN_ENTRIES


def test_overlong_encoded_text_is_refused_before_decoding() -> None:
    assert _error_code("u" + "A" * 40_000, max_bytes=16_384) == "status_list.too_large"


def _gzip_bomb(mebibytes: int) -> bytes:
    """A valid GZIP stream of `mebibytes` MiB of zeros, made without compressing them all (~1 KiB per MiB)."""
    zeros = bytes(2**20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    # A full flush ends the segment on a byte boundary with no back-references, so it can be repeated.
    segment = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    final_block = deflate.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (mebibytes * 2**20) & 0xFFFFFFFF)
    return header + segment * mebibytes + final_block + trailer


@pytest.fixture
def inflated_bytes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the bytes the decoder's inflater produces, to show a bomb is not inflated past the limit."""
    produced: list[int] = []
    real_decompressobj = zlib.decompressobj

    class Counting:
        def __init__(self, wbits: int) -> None:
            self._inner = real_decompressobj(wbits=wbits)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self._inner.decompress(data, max_length)
            produced.append(len(out))
            return out

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    return produced


def test_gzip_bomb_is_refused_without_inflating_it(inflated_bytes: list[int]) -> None:
    bomb = _gzip_bomb(1024)  # 1 GiB of zeros in about 1 MiB
    assert len(bomb) < 2**21
    assert gzip.decompress(_gzip_bomb(4)) == bytes(4 * 2**20)  # the construction is real GZIP
    inflated_bytes.clear()
    assert _error_code("u" + _b64url(bomb)) == "status_list.too_large"
    assert sum(inflated_bytes) == 16 * 2**20 + 1  # the default limit plus the one byte that proves the excess


def test_small_limit_stops_a_bomb_early(inflated_bytes: list[int]) -> None:
    assert _error_code("u" + _b64url(_gzip_bomb(64)), max_bytes=2**20) == "status_list.too_large"
    assert sum(inflated_bytes) == 2**20 + 1


# --- index allocation -----------------------------------------------------------------------------------


def test_allocation_avoids_taken_indices_and_stays_in_range() -> None:
    rng = random.Random(1)
    taken: set[int] = set()
    for _ in range(2000):
        index = allocate_index(taken, 4096, rng=rng)
        assert 0 <= index < 4096
        assert index not in taken
        taken.add(index)


def test_allocation_in_a_ninety_percent_full_list() -> None:
    size = MIN_ENTRIES
    rng = random.Random(90)
    taken = set(rng.sample(range(size), size * 9 // 10))
    drawn = {allocate_index(taken, size, rng=rng) for _ in range(500)}
    assert not drawn & taken
    assert len(drawn) > 450  # spread over the free tenth, not clustered


def test_allocation_falls_back_to_the_last_free_index() -> None:
    size = 100_000
    taken = set(range(size)) - {77_777}
    assert allocate_index(taken, size, rng=random.Random(0)) == 77_777


def test_allocation_is_uniform_over_free_indices() -> None:
    rng = random.Random(2024)
    taken = set(range(0, 16, 2))
    counts = Counter(allocate_index(taken, 16, rng=rng) for _ in range(8000))
    assert set(counts) == set(range(1, 16, 2))
    assert all(850 < count < 1150 for count in counts.values())


def test_fallback_choice_is_uniform_too() -> None:
    rng = random.Random(7)
    free = {11, 2222, 5555, 9999}
    taken = set(range(10_000)) - free
    counts = Counter(allocate_index(taken, 10_000, rng=rng) for _ in range(800))
    assert set(counts) == free
    assert all(140 < count < 260 for count in counts.values())


def test_full_list_is_reported() -> None:
    with pytest.raises(StatusListError) as caught:
        allocate_index(range(64), 64, rng=random.Random(0))
    assert caught.value.code == "status_list.full"


def test_allocation_uses_a_system_rng_by_default() -> None:
    assert 0 <= allocate_index(set(), MIN_ENTRIES) < MIN_ENTRIES


@pytest.mark.parametrize("size", [0, -1, True])
def test_allocation_refuses_bad_sizes(size: int) -> None:
    with pytest.raises(StatusListError) as caught:
        allocate_index(set(), size)
    assert caught.value.code == "status_list.size"


# --- credentialStatus entries ---------------------------------------------------------------------------

STATUS_BASE = "https://w3c-ccg.github.io/vc-api/fixtures/credentials/status/"
FIXTURE_EXPECTATIONS = {
    "should-be-revoked": ("revocation", 201, "purpose-single-ok.jsonld"),
    "should-be-suspended": ("suspension", 201, "purpose-multi-ok.jsonld"),
    "sl-date-expired-fail": ("revocation", 201, "date-expired-fail.jsonld"),
    "sl-encoded-list-invalid-fail": ("revocation", 201, "encoded-list-invalid-fail.jsonld"),
    "sl-encoded-list-short-fail": ("revocation", 201, "encoded-list-short-fail.jsonld"),
    "sl-purpose-multi-ok": ("revocation", 1, "purpose-multi-ok.jsonld"),
    "sl-purpose-single-ok": ("revocation", 1, "purpose-single-ok.jsonld"),
    "sl-vc-type-missing-fail": ("revocation", 201, "vc-type-missing-fail.jsonld"),
    "sl-vc-type-wrong-fail": ("revocation", 201, "vc-type-wrong-fail.jsonld"),
}


def test_every_fixture_has_an_expectation() -> None:
    assert {path.stem for path in FIXTURES} == set(FIXTURE_EXPECTATIONS)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_fixture_credential_status_parses(path: Path) -> None:
    credential = json.loads(path.read_text("utf-8"))
    purpose, index, document = FIXTURE_EXPECTATIONS[path.stem]
    assert parse_credential_status(credential["credentialStatus"]) == StatusReference(
        purpose=purpose, index=index, list_url=STATUS_BASE + document, size=1
    )


VALID_ENTRY: dict[str, Any] = {
    "id": "https://huren.example/status/cq/revocation#94567",
    "type": "BitstringStatusListEntry",
    "statusPurpose": "revocation",
    "statusListIndex": "94567",
    "statusListCredential": "https://huren.example/status/cq/revocation",
}


def test_valid_entry_with_status_size() -> None:
    reference = parse_credential_status({**VALID_ENTRY, "statusPurpose": "message", "statusSize": 2})
    assert reference == StatusReference("message", 94567, VALID_ENTRY["statusListCredential"], 2)


@pytest.mark.parametrize("index", ["0", "007", "131071", "999999999999999999"])
def test_decimal_indices_accepted(index: str) -> None:
    assert parse_credential_status({**VALID_ENTRY, "statusListIndex": index}).index == int(index)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"type": "StatusList2021Entry"}, "entry_type"),
        ({"type": ["BitstringStatusListEntry"]}, "entry_type"),
        ({"type": None}, "entry_type"),
        ({"statusPurpose": "Revocation"}, "purpose"),
        ({"statusPurpose": "expiry"}, "purpose"),
        ({"statusPurpose": None}, "purpose"),
        ({"statusListIndex": 94567}, "index"),
        ({"statusListIndex": "-1"}, "index"),
        ({"statusListIndex": "+1"}, "index"),
        ({"statusListIndex": " 1"}, "index"),
        ({"statusListIndex": "1.0"}, "index"),
        ({"statusListIndex": "1_000"}, "index"),
        ({"statusListIndex": "0x10"}, "index"),
        ({"statusListIndex": "\u0661\u0662"}, "index"),  # Arabic-Indic digits, which int() would take
        ({"statusListIndex": ""}, "index"),
        ({"statusListIndex": "1" * 19}, "index"),
        ({"statusListIndex": None}, "index"),
        ({"statusListCredential": "/status/cq/revocation"}, "credential_url"),
        ({"statusListCredential": " https://huren.example/s"}, "credential_url"),
        ({"statusListCredential": "http://[::1"}, "credential_url"),
        ({"statusListCredential": ""}, "credential_url"),
        ({"statusListCredential": None}, "credential_url"),
        ({"statusSize": 0}, "size"),
        ({"statusSize": "2"}, "size"),
        ({"statusSize": True}, "size"),
    ],
)
def test_invalid_entries_are_refused(change: dict[str, Any], code: str) -> None:
    entry = {key: value for key, value in {**VALID_ENTRY, **change}.items() if value is not None}
    with pytest.raises(StatusListError) as caught:
        parse_credential_status(entry)
    assert caught.value.code == f"status_list.{code}"


def test_non_mapping_entry_is_refused() -> None:
    with pytest.raises(StatusListError) as caught:
        parse_credential_status([VALID_ENTRY])  # type: ignore[arg-type]
    assert caught.value.code == "status_list.entry"
