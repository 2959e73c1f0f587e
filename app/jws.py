"""ES256 compact JWS signing, straight on `cryptography`.

Every verification answer carries a signed receipt, so signing is on the hot path. PyJWT's `encode` spent
as long again as the ECDSA signature itself (merging and sorting the header, re-checking the algorithm and
key, generic JSON encoding): about 12 % of a verification's CPU (bench/RESULTS.md). A compact JWS is a fixed
composition (RFC 7515 §7.1, with RFC 7518 §3.4's raw R‖S signature), done here with the header encoded
once per key and token kind. PyJWT still reads every token, ours included; tests check it accepts these.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ES256 = "ES256"
P256_BYTES = 32
SIGNATURE = ec.ECDSA(hashes.SHA256())


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@lru_cache(maxsize=64)
def protected_header(typ: str, kid: str) -> bytes:
    """The encoded protected header of one token kind under one key (keys rotate rarely: a small cache)."""
    header = {"alg": ES256, "kid": kid, "typ": typ}
    return b64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())


def sign_es256(claims: Mapping[str, Any], key: ec.EllipticCurvePrivateKey, *, typ: str, kid: str) -> str:
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("ES256 signs with a P-256 key")
    payload = b64url(json.dumps(dict(claims), separators=(",", ":")).encode())  # json takes dicts only
    signing_input = protected_header(typ, kid) + b"." + payload
    r, s = decode_dss_signature(key.sign(signing_input, SIGNATURE))
    signature = r.to_bytes(P256_BYTES, "big") + s.to_bytes(P256_BYTES, "big")
    return (signing_input + b"." + b64url(signature)).decode("ascii")
