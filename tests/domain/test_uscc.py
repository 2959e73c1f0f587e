"""Unified social credit codes: stdnum vectors, the DOMAIN.md counter-example, error-detection properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainError
from app.domain.uscc import USCC_ALPHABET, USCC_WEIGHTS, compute_uscc_check, validate_uscc

USCC = json.loads(
    (Path(__file__).parent.parent / "vectors" / "cn-ids" / "gb32100_uscc.json").read_text("utf-8")
)

INVALID_CODES = {
    "12345": "usci.format",
    # stdnum calls this a format error (it wants 8 leading digits); GB 32100 allows letters as registering
    # authority (A = 军队), so here the shape passes and the check character fails.
    "A1110000600037341L": "usci.checksum",
    "9111000060003IOZSV": "usci.format",
    "91110000600037341N": "usci.checksum",
}


def test_vector_counts() -> None:
    assert len(USCC["valid"]) == 200
    assert {v["value"] for v in USCC["invalid"]} == set(INVALID_CODES)


@pytest.mark.parametrize("code", USCC["valid"])
def test_valid_vector_accepted(code: str) -> None:
    assert validate_uscc(code) == code
    assert validate_uscc(code.lower()) == code


@pytest.mark.parametrize(("code", "error"), sorted(INVALID_CODES.items()))
def test_invalid_vector_rejected(code: str, error: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_uscc(code)
    assert caught.value.code == error
    assert code not in str(caught.value)


@pytest.mark.parametrize("case", USCC["normalise"])
def test_normalise_vector(case: dict[str, str]) -> None:
    assert validate_uscc(case["input"]) == case["expected"]


@pytest.mark.parametrize(
    "raw", ["９１１１００００６０００３７３４１Ｌ", "91110000\u3000600037341l", "\u200b91110000600037341L\n"]
)
def test_full_width_and_spacing_normalised(raw: str) -> None:
    assert validate_uscc(raw) == "91110000600037341L"


def test_domain_md_counter_example() -> None:
    assert compute_uscc_check("91350100M000100Y4") == "3"
    assert validate_uscc("91350100M000100Y43") == "91350100M000100Y43"
    # Z is not in the alphabet at all; in the check position that is reported as a wrong check character.
    for wrong in ("91350100M000100Y4Z", "91350100M000100Y4Y", "91350100m000100y4z"):
        with pytest.raises(DomainError) as caught:
            validate_uscc(wrong)
        assert caught.value.code == "usci.checksum"


def test_alphabet_and_weights() -> None:
    assert len(USCC_ALPHABET) == 31
    assert not set("IOSVZ") & set(USCC_ALPHABET)
    assert tuple(pow(3, i, 31) for i in range(17)) == USCC_WEIGHTS


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "9111000060003734",
        "91110000600037341L0",
        "91A10000600037341L",  # letter in the address code
        "91-110000600037341L",
        "9111000060003734I1",
        "91110000600037341\u00d7",
    ],
)
def test_shape_errors(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_uscc(raw)
    assert caught.value.code == "usci.format"


@pytest.mark.parametrize("first17", ["", "9111000060003734", "9111000060003734I", "911100006000373411"])
def test_check_needs_17_alphabet_characters(first17: str) -> None:
    with pytest.raises(DomainError) as caught:
        compute_uscc_check(first17)
    assert caught.value.code == "usci.format"


ALPHABET = st.sampled_from(USCC_ALPHABET)


@st.composite
def usccs(draw: st.DrawFn) -> str:
    head = draw(st.text(ALPHABET, min_size=2, max_size=2))
    region = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    body = draw(st.text(ALPHABET, min_size=9, max_size=9))
    first17 = head + region + body
    return first17 + compute_uscc_check(first17)


@given(usccs())
def test_generated_codes_accepted(code: str) -> None:
    assert validate_uscc(code) == code


@given(usccs())
def test_every_single_substitution_rejected(code: str) -> None:
    # 31 is prime and every weight (and the check's implicit weight 1) is non-zero mod 31; two alphabet
    # indexes differ by 1..30, so a single substitution always changes the sum mod 31.
    for position, original in enumerate(code):
        for replacement in USCC_ALPHABET:
            if replacement != original:
                with pytest.raises(DomainError):
                    validate_uscc(code[:position] + replacement + code[position + 1 :])


@given(usccs())
def test_every_adjacent_transposition_rejected(code: str) -> None:
    # Swapping distinct a, b at positions i, i+1 changes the sum by (w_i - w_{i+1})(a - b) = -2 w_i (a - b),
    # never 0 mod 31; for the last pair (check has weight 1) it is 27 (b - a), also never 0.
    for position in range(17):
        a, b = code[position], code[position + 1]
        if a != b:
            swapped = code[:position] + b + a + code[position + 2 :]
            with pytest.raises(DomainError):
                validate_uscc(swapped)
