"""ES256 compact JWS as app/jws.py writes it: what PyJWT and a bare ECDSA check accept."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from app.jws import sign_es256

KEY = ec.generate_private_key(ec.SECP256R1())
claims_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def unpad(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


# PyJWT checks the registered claims' types when it reads them; the signer leaves claims to its callers.
REGISTERED = {"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}
claim_names = st.text(max_size=10).filter(lambda name: name not in REGISTERED)


@given(claims=st.dictionaries(claim_names, claims_values, max_size=6))
def test_pyjwt_reads_what_we_sign(claims: dict[str, object]) -> None:
    token = sign_es256(claims, KEY, typ="huren-receipt+jwt", kid="k1")
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": "k1", "typ": "huren-receipt+jwt"}
    decoded = jwt.decode(token, KEY.public_key(), algorithms=["ES256"], options={"verify_aud": False})
    assert decoded == claims


def test_the_signature_is_raw_r_and_s_over_the_signing_input() -> None:
    token = sign_es256({"sub": "张三", "n": 1}, KEY, typ="at+jwt", kid="k1")
    header, payload, signature = token.split(".")
    assert json.loads(unpad(payload)) == {"sub": "张三", "n": 1}
    raw = unpad(signature)
    assert len(raw) == 64  # RFC 7518 §3.4: R and S, 32 bytes each, not DER
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    KEY.public_key().verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))


def test_only_a_p256_key_signs_es256() -> None:
    with pytest.raises(ValueError, match="P-256"):
        sign_es256({}, ec.generate_private_key(ec.SECP384R1()), typ="at+jwt", kid="k1")


def test_header_and_payload_are_what_pyjwt_wrote() -> None:
    """The tokens this node signed with PyJWT before: the same first two segments (ECDSA signatures vary)."""
    claims = {"iss": "https://sc.example", "aud": "hr-cq", "iat": 1, "exp": 2, "jti": "a1", "name": "张三"}
    ours = sign_es256(claims, KEY, typ="huren-receipt+jwt", kid="k1")
    theirs = jwt.encode(claims, KEY, algorithm="ES256", headers={"typ": "huren-receipt+jwt", "kid": "k1"})
    assert ours.split(".")[:2] == theirs.split(".")[:2]
