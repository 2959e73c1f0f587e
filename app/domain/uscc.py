"""GB 32100-2015 unified social credit codes (统一社会信用代码) of issuers and verifiers."""

from __future__ import annotations

import re

from app.domain.errors import DomainError
from app.domain.identity import normalize_document_number

# 31 symbols: digits and upper-case letters without I, O, S, V, Z (too easily confused with 1, 0, 5, U, 2).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Weight of position i (1-based) is 3^(i-1) mod 31 (GB 32100-2015, after GB/T 17710).
USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_INDEX = {symbol: index for index, symbol in enumerate(USCC_ALPHABET)}
# Positions 3-8 are a GB/T 2260 administrative-division code and therefore always digits. Positions 1-2
# (registering authority, organisation type) are not checked against their tables: new authorities were added
# after 2015 (A = 军队, N = 农业) and a stale table would reject real organisations; the check character
# already catches typos there.
# The 18th character may be any ASCII letter or digit here: one outside the alphabet (e.g. the Z that some web
# pages compute for 91350100M000100Y4) is a wrong check character, and saying so points at the real mistake.
_SHAPE = re.compile(rf"[{USCC_ALPHABET}]{{2}}[0-9]{{6}}[{USCC_ALPHABET}]{{9}}[0-9A-Z]")


def compute_uscc_check(first17: str) -> str:
    """Return the check character for the first 17 characters of a unified social credit code."""
    if len(first17) != 17 or any(symbol not in _INDEX for symbol in first17):
        raise DomainError("usci.format", "The check character needs 17 characters of the code alphabet.")
    total = sum(_INDEX[symbol] * weight for symbol, weight in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(raw: str) -> str:
    """Validate a unified social credit code and return it normalised (NFKC, no whitespace, upper case)."""
    code = normalize_document_number(raw)
    if not _SHAPE.fullmatch(code):
        raise DomainError(
            "usci.format",
            "A unified social credit code has 18 characters from 0-9 and A-Z without I, O, S, V and Z.",
        )
    if code[17] != compute_uscc_check(code[:17]):
        raise DomainError("usci.checksum", "The check character of the unified social credit code is wrong.")
    return code
