"""VC-JOSE: the W3C test-suite vectors, sign/verify round trips, and every refusal with its code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm
from jwt.api_jws import PyJWS

from app.cards.vc_jose import (
    ASYMMETRIC_ALGORITHMS,
    VC_CONTEXT_V2,
    VcJoseError,
    check_credential,
    sign_vc_jwt,
    verify_vc_jwt,
)

VECTORS = Path(__file__).parent.parent / "vectors" / "vc-jose-cose"
MAPPING: list[dict[str, str]] = json.loads((VECTORS / "test-mapping.json").read_text("utf-8"))["cases"]
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _case_id(case: Mapping[str, str]) -> str:
    return case["name"].split(".")[0] + "-" + case["input_file"]


def _cases(*features: str) -> list[dict[str, str]]:
    return [case for case in MAPPING if case["fn"] == "verify" and case["feature"] in features]


def _vector_text(name: str) -> str:
    return (VECTORS / name).read_text("utf-8").strip()


def _vector_key(name: str) -> dict[str, Any]:
    public: dict[str, Any] = json.loads((VECTORS / name).read_text("utf-8"))["publicKeyJwk"]
    return public


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_json(value: object) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


# Why each failing JOSE credential case fails here. Case 9 carries the same claims as the minimal credential;
# it fails because it is ES512 under the P-521 kid while the mapping gives the Ed25519 key (EdDSA allowed).
EXPECTED_CODES = {
    "credential-jose-unknown-extensions.txt": "vc_jose.algorithm",
    "credential-minimal.json": "vc_jose.malformed",  # an unsecured JSON credential is not a JWS
    "credential-jose-bad-signature.txt": "vc_jose.signature",
    "credential-jose-bad-media-type.txt": "vc_jose.typ",
    "credential-jose-vc-vp-claims.txt": "vc_jose.claims",
}


def test_mapping_has_the_jose_credential_verification_cases() -> None:
    names = [case["input_file"] for case in _cases("credential_jose")]
    assert len(names) == 7
    assert set(EXPECTED_CODES) < set(names)


@pytest.mark.parametrize("case", _cases("credential_jose"), ids=_case_id)
def test_w3c_jose_credential_verification_case(case: dict[str, str]) -> None:
    key = _vector_key(case["key_file"])
    token = _vector_text(case["input_file"])
    if case["expected_result"] == "success":
        credential = verify_vc_jwt(token, [key], algorithms=(key["alg"],), now=NOW)
        assert "VerifiableCredential" in credential["type"]
        assert credential["issuer"] == "https://example.issuer/vc-jose-cose"
        assert credential["iat"] == "2010-01-01T19:23:24Z"  # string iat accepted: not checked by policy
    else:
        assert case["expected_result"] == "failure"
        with pytest.raises(VcJoseError) as caught:
            verify_vc_jwt(token, [key], algorithms=(key["alg"],), now=NOW)
        assert caught.value.code == EXPECTED_CODES[case["input_file"]]


@pytest.mark.parametrize(
    "name", ["credential-jose-bad-media-type.txt", "credential-jose-vc-vp-claims.txt"], ids=lambda name: name
)
def test_negative_vectors_have_valid_signatures_and_are_refused_on_rules(name: str) -> None:
    key = jwt.PyJWK(_vector_key("vm-ed25519.json"))
    decoded = PyJWS().decode_complete(_vector_text(name), key, algorithms=["EdDSA"])
    assert decoded["payload"]  # the signature verifies: the refusal above comes from typ/cty or vc/vp


def test_unknown_extensions_vector_verifies_with_its_own_key() -> None:
    # Documents the mapping's key mismatch for case 9: with the key its kid names, it is a valid credential.
    key = _vector_key("vm-p521.json")
    token = _vector_text("credential-jose-unknown-extensions.txt")
    assert verify_vc_jwt(token, {"keys": [key]}, algorithms=("ES512",), now=NOW)["id"].endswith("/1872")


def test_string_iat_is_why_pyjwt_claim_validation_is_not_used() -> None:
    key = jwt.PyJWK(_vector_key("vm-p256.json"))
    token = _vector_text("credential-jose-minimal.txt")
    with pytest.raises(jwt.InvalidIssuedAtError):
        jwt.decode(token, key, algorithms=["ES256"])
    assert verify_vc_jwt(token, [_vector_key("vm-p256.json")], now=NOW)["validFrom"] == "2010-01-01T19:23:24Z"


@pytest.mark.parametrize("case", _cases("presentation_jose"), ids=_case_id)
def test_presentations_are_never_accepted_as_credentials(case: dict[str, str]) -> None:
    key = _vector_key(case["key_file"])
    with pytest.raises(VcJoseError) as caught:
        verify_vc_jwt(_vector_text(case["input_file"]), [key], algorithms=(key["alg"],), now=NOW)
    assert caught.value.code in {"vc_jose.typ", "vc_jose.malformed"}


@pytest.mark.parametrize("case", _cases("credential_sdjwt", "presentation_sdjwt"), ids=_case_id)
def test_sd_jwt_tokens_are_refused(case: dict[str, str]) -> None:
    key = _vector_key(case["key_file"])
    with pytest.raises(VcJoseError) as caught:
        verify_vc_jwt(_vector_text(case["input_file"]), [key], algorithms=(key["alg"],), now=NOW)
    assert caught.value.code == "vc_jose.malformed"  # the "~" disclosures make it no compact JWS


# --- round trips ----------------------------------------------------------------------------------------

ISSUER = "https://huren.example/issuers/cq"


def _credential(**changes: Any) -> dict[str, Any]:
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT_V2],
        "id": "https://huren.example/status/cq/revocation",
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": ISSUER,
        "validFrom": "2025-01-01T00:00:00Z",
        "validUntil": "2026-01-01T00:00:00+08:00",
        "credentialSubject": {
            "id": "https://huren.example/status/cq/revocation#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA",
            "ttl": 300000,
        },
    }
    credential.update(changes)
    return {name: value for name, value in credential.items() if value is not None}


@pytest.fixture(scope="module")
def private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _public_jwk(key: ec.EllipticCurvePrivateKey, kid: str = "k1", **members: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, **members}


def test_sign_then_verify(private_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign_vc_jwt(_credential(), private_key, "k1")
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "typ": "vc+jwt", "cty": "vc", "kid": "k1"}
    assert verify_vc_jwt(token, {"keys": [_public_jwk(private_key)]}, now=NOW) == _credential()


def test_verify_with_a_list_of_keys_picks_the_kid(private_key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    token = sign_vc_jwt(_credential(), private_key, "current")
    keys = [_public_jwk(other, "rotated-out"), _public_jwk(private_key, "current")]
    assert verify_vc_jwt(token, keys, now=NOW)["issuer"] == ISSUER


def test_jwks_holding_the_private_key_still_verifies(private_key: ec.EllipticCurvePrivateKey) -> None:
    private_jwk: dict[str, Any] = ECAlgorithm.to_jwk(private_key, as_dict=True)
    token = sign_vc_jwt(_credential(), private_key, "k1")
    assert verify_vc_jwt(token, [{**private_jwk, "kid": "k1"}], now=NOW)["issuer"] == ISSUER


def test_chinese_text_round_trips_as_utf8(private_key: ec.EllipticCurvePrivateKey) -> None:
    credential = _credential(name="重庆英才服务卡 吊销清单")
    token = sign_vc_jwt(credential, private_key, "k1")
    payload = base64.urlsafe_b64decode(token.split(".")[1] + "==")
    assert "重庆英才服务卡".encode() in payload  # not \\u escaped: shorter tokens
    assert verify_vc_jwt(token, [_public_jwk(private_key)], now=NOW)["name"] == "重庆英才服务卡 吊销清单"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=30, deadline=None)
@given(subject=st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_any_json_subject_round_trips(subject: dict[str, Any]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    credential = _credential(credentialSubject=subject)
    assert verify_vc_jwt(sign_vc_jwt(credential, key, "k"), [_public_jwk(key, "k")], now=NOW) == credential


@settings(max_examples=40, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.sampled_from("AQgw"))
def test_any_payload_change_is_refused(position: int, replacement: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    header, payload, signature = sign_vc_jwt(_credential(), key, "k").split(".")
    spot = position % len(payload)
    if payload[spot] == replacement:
        replacement = "B"
    tampered = ".".join([header, payload[:spot] + replacement + payload[spot + 1 :], signature])
    with pytest.raises(VcJoseError) as caught:
        verify_vc_jwt(tampered, [_public_jwk(key, "k")], now=NOW)
    assert caught.value.code == "vc_jose.signature"


# --- refusals, one per code -----------------------------------------------------------------------------


def _sign_raw(key: ec.EllipticCurvePrivateKey, payload: bytes | Mapping[str, Any], **header: Any) -> str:
    """Any header and payload, signed ES256: to build tokens that sign_vc_jwt would never make."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    members = {"typ": "vc+jwt", "kid": "k1", **header}
    headers = {name: value for name, value in members.items() if value is not None}
    if "typ" not in headers:
        headers["typ"] = None  # PyJWS adds typ "JWT" unless told to drop it
    return PyJWS().encode(body, key, algorithm="ES256", headers=headers)


def _code(token: str, keys: Any, **kwargs: Any) -> str:
    with pytest.raises(VcJoseError) as caught:
        verify_vc_jwt(token, keys, **{"now": NOW, **kwargs})
    return caught.value.code


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d.e",  # JWE compact form
        "a..c",
        "eyJhbGciOiJFUzI1NiJ9.e30.",  # unsigned (empty signature)
        "e30.e30.e30 ",
        "!!!.e30.e30",
        _b64url(b"not json") + ".e30.AAAA",
        _b64url_json(["alg", "ES256"]) + ".e30.AAAA",
    ],
)
def test_malformed_tokens(token: str) -> None:
    assert _code(token, [{"kty": "EC"}]) == "vc_jose.malformed"


def test_overlong_and_non_string_tokens_are_malformed() -> None:
    assert _code("a" * (32 * 2**20 + 1), [{"kty": "EC"}]) == "vc_jose.malformed"
    assert _code(b"a.b.c", [{"kty": "EC"}]) == "vc_jose.malformed"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe not utf-8",
        b"{not json",
        b'{"a": 1, "a": 2}',
        b'{"n": NaN}',
        b'{"n": Infinity}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_payloads(private_key: ec.EllipticCurvePrivateKey, payload: bytes) -> None:
    assert _code(_sign_raw(private_key, payload), [_public_jwk(private_key)]) == "vc_jose.malformed"


@pytest.mark.parametrize("payload", [b"[]", b'"credential"', b"42", b"null"])
def test_payload_that_is_not_an_object(private_key: ec.EllipticCurvePrivateKey, payload: bytes) -> None:
    assert _code(_sign_raw(private_key, payload), [_public_jwk(private_key)]) == "vc_jose.not_credential"


@pytest.mark.parametrize(
    "header", [{"crit": ["exp"]}, {"crit": ["b64"], "b64": True}, {"b64": True}, {"kid": 7}]
)
def test_header_members_refused(private_key: ec.EllipticCurvePrivateKey, header: dict[str, Any]) -> None:
    # PyJWS refuses to sign with some of these, so the header is swapped in after signing (the signature is
    # then wrong, which must not matter: the header is refused first).
    token = sign_vc_jwt(_credential(), private_key, "k1")
    forged = ".".join(
        [_b64url_json({"alg": "ES256", "typ": "vc+jwt", "kid": "k1", **header}), *token.split(".")[1:]]
    )
    assert _code(forged, [_public_jwk(private_key)]) == "vc_jose.header"


def _hmac_token(secret: bytes, alg: str = "HS256") -> str:
    signing_input = (
        _b64url_json({"alg": alg, "typ": "vc+jwt", "kid": "k1"}) + "." + _b64url_json(_credential())
    )
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(digest)


def test_hmac_with_the_public_key_as_secret_is_refused(private_key: ec.EllipticCurvePrivateKey) -> None:
    jwk = _public_jwk(private_key)
    assert _code(_hmac_token(json.dumps(jwk).encode()), [jwk]) == "vc_jose.algorithm"
    assert _code(_hmac_token(b"x"), [jwk], algorithms=("ES256", "EdDSA")) == "vc_jose.algorithm"


def test_alg_none_is_refused(private_key: ec.EllipticCurvePrivateKey) -> None:
    unsigned = _b64url_json({"alg": "none", "typ": "vc+jwt", "kid": "k1"}) + "." + _b64url_json(_credential())
    assert _code(unsigned + ".AAAA", [_public_jwk(private_key)]) == "vc_jose.algorithm"
    assert _code(unsigned + ".", [_public_jwk(private_key)]) == "vc_jose.malformed"


def test_algorithm_outside_the_allowed_set(private_key: ec.EllipticCurvePrivateKey) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    token = PyJWS().encode(
        json.dumps(_credential()).encode(), p384, algorithm="ES384", headers={"typ": "vc+jwt"}
    )
    jwk = ECAlgorithm.to_jwk(p384.public_key(), as_dict=True)
    assert _code(token, [jwk]) == "vc_jose.algorithm"
    assert verify_vc_jwt(token, [jwk], algorithms=("ES384",), now=NOW)["issuer"] == ISSUER


def test_key_declared_for_another_algorithm(private_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign_vc_jwt(_credential(), private_key, "k1")
    assert (
        _code(token, [_public_jwk(private_key, alg="ES384")], algorithms=("ES256", "ES384"))
        == "vc_jose.algorithm"
    )


@pytest.mark.parametrize(
    "algorithms", [("HS256",), ("none",), ("ES256", "HS512"), ("ES521",), ("RSA1_5",), ()]
)
def test_caller_may_not_allow_symmetric_or_unknown_algorithms(
    private_key: ec.EllipticCurvePrivateKey, algorithms: tuple[str, ...]
) -> None:
    token = sign_vc_jwt(_credential(), private_key, "k1")
    with pytest.raises(ValueError, match="algorithms") as caught:
        verify_vc_jwt(token, [_public_jwk(private_key)], algorithms=algorithms)
    assert not isinstance(caught.value, VcJoseError)  # a configuration mistake, not a bad token


def test_algorithms_must_not_be_a_bare_string(private_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(TypeError):
        verify_vc_jwt(
            sign_vc_jwt(_credential(), private_key, "k1"), [_public_jwk(private_key)], algorithms="ES256"
        )


def test_asymmetric_algorithm_set_has_no_mac_or_none() -> None:
    assert not {name for name in ASYMMETRIC_ALGORITHMS if name.startswith("HS") or name == "none"}


def test_unknown_kid(private_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign_vc_jwt(_credential(), private_key, "k1")
    assert _code(token, [_public_jwk(private_key, "k2")]) == "vc_jose.kid"
    assert _code(token, []) == "vc_jose.kid"
    assert _code(token, [{k: v for k, v in _public_jwk(private_key).items() if k != "kid"}]) == "vc_jose.kid"


def test_duplicate_kid_is_ambiguous(private_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign_vc_jwt(_credential(), private_key, "k1")
    other = ec.generate_private_key(ec.SECP256R1())
    assert _code(token, [_public_jwk(private_key), _public_jwk(other)]) == "vc_jose.kid"


def test_token_without_kid_uses_a_single_key_only(private_key: ec.EllipticCurvePrivateKey) -> None:
    token = _sign_raw(private_key, _credential(), kid=None)
    assert "kid" not in jwt.get_unverified_header(token)
    assert verify_vc_jwt(token, [_public_jwk(private_key)], now=NOW)["issuer"] == ISSUER
    other = _public_jwk(ec.generate_private_key(ec.SECP256R1()), "k2")
    assert _code(token, [_public_jwk(private_key), other]) == "vc_jose.kid"


@pytest.mark.parametrize(
    "members",
    [
        {"kty": "oct", "k": "c2VjcmV0"},
        {"use": "enc"},
        {"key_ops": ["encrypt"]},
        {"crv": "P-384"},
        {"x": "AAAA"},
    ],
)
def test_unusable_keys(private_key: ec.EllipticCurvePrivateKey, members: dict[str, Any]) -> None:
    token = sign_vc_jwt(_credential(), private_key, "k1")
    assert _code(token, [_public_jwk(private_key, **members)]) == "vc_jose.key"


def test_key_of_another_curve_under_the_same_kid(private_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign_vc_jwt(_credential(), private_key, "k1")
    p384 = _public_jwk(ec.generate_private_key(ec.SECP384R1()), "k1")
    assert _code(token, [p384]) == "vc_jose.key"
    okp = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(bytes(32)), "kid": "k1"}
    assert _code(token, [okp]) == "vc_jose.key"


def test_signature_by_another_key_under_the_trusted_kid(private_key: ec.EllipticCurvePrivateKey) -> None:
    impostor = sign_vc_jwt(_credential(), ec.generate_private_key(ec.SECP256R1()), "k1")
    assert _code(impostor, [_public_jwk(private_key)]) == "vc_jose.signature"


def test_eddsa_round_trip_when_allowed() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    token = PyJWS().encode(
        json.dumps(_credential()).encode(), key, algorithm="EdDSA", headers={"typ": "vc+jwt", "kid": "ed"}
    )
    jwk = {**json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key())), "kid": "ed"}
    assert verify_vc_jwt(token, [jwk], algorithms=("EdDSA",), now=NOW)["issuer"] == ISSUER
    assert _code(token, [jwk]) == "vc_jose.algorithm"


@pytest.mark.parametrize("typ", ["vc+jwt", "application/vc+jwt", "VC+JWT", "Application/VC+JWT"])
def test_accepted_typ_values(private_key: ec.EllipticCurvePrivateKey, typ: str) -> None:
    token = _sign_raw(private_key, _credential(), typ=typ)
    assert verify_vc_jwt(token, [_public_jwk(private_key)], now=NOW)["issuer"] == ISSUER


@pytest.mark.parametrize(
    "typ",
    [None, "JWT", "vp+jwt", "vc+sd-jwt", "vc+ld+json+jwt", "application/vc", "text/vc+jwt", "vc+jwt ", 1],
)
def test_refused_typ_values(private_key: ec.EllipticCurvePrivateKey, typ: Any) -> None:
    token = _sign_raw(private_key, _credential(), typ=typ)
    assert _code(token, [_public_jwk(private_key)]) == "vc_jose.typ"


@pytest.mark.parametrize("cty", ["vc", "application/vc", "VC"])
def test_accepted_cty_values(private_key: ec.EllipticCurvePrivateKey, cty: str) -> None:
    token = _sign_raw(private_key, _credential(), cty=cty)
    assert verify_vc_jwt(token, [_public_jwk(private_key)], now=NOW)["issuer"] == ISSUER


@pytest.mark.parametrize("cty", ["vp", "vc+ld+json", "application/json", "", 5])
def test_refused_cty_values(private_key: ec.EllipticCurvePrivateKey, cty: Any) -> None:
    token = _sign_raw(private_key, _credential(), cty=cty)
    assert _code(token, [_public_jwk(private_key)]) == "vc_jose.cty"


@pytest.mark.parametrize("claim", ["vc", "vp"])
def test_vc_and_vp_claims_refused(private_key: ec.EllipticCurvePrivateKey, claim: str) -> None:
    token = _sign_raw(private_key, {**_credential(), claim: {"type": ["VerifiableCredential"]}})
    assert _code(token, [_public_jwk(private_key)]) == "vc_jose.claims"


@pytest.mark.parametrize(
    "changes",
    [
        {"@context": None},
        {"@context": VC_CONTEXT_V2},
        {"@context": []},
        {"@context": ["https://www.w3.org/2018/credentials/v1"]},
        {"@context": ["https://www.w3.org/ns/credentials/examples/v2", VC_CONTEXT_V2]},
        {"type": None},
        {"type": ["VerifiablePresentation"]},
        {"type": "BitstringStatusListCredential"},
        {"type": {"0": "VerifiableCredential"}},
        {"issuer": None},
        {"issuer": ""},
        {"issuer": {"name": "no id"}},
        {"issuer": 42},
        {"credentialSubject": None},
        {"credentialSubject": "did:example:123"},
    ],
)
def test_payload_that_is_not_a_credential(
    private_key: ec.EllipticCurvePrivateKey, changes: dict[str, Any]
) -> None:
    token = _sign_raw(private_key, _credential(**changes))
    assert _code(token, [_public_jwk(private_key)]) == "vc_jose.not_credential"


def test_single_type_string_and_issuer_object_are_credentials(
    private_key: ec.EllipticCurvePrivateKey,
) -> None:
    credential = _credential(type="VerifiableCredential", issuer={"id": ISSUER, "name": "重庆"}, iss=ISSUER)
    token = _sign_raw(private_key, credential)
    assert verify_vc_jwt(token, [_public_jwk(private_key)], now=NOW)["issuer"]["id"] == ISSUER


@pytest.mark.parametrize("iss", ["https://other.example", "", None])
def test_iss_must_match_the_issuer(private_key: ec.EllipticCurvePrivateKey, iss: str | None) -> None:
    token = _sign_raw(private_key, {**_credential(), "iss": iss})
    assert _code(token, [_public_jwk(private_key)]) == "vc_jose.issuer"


def test_validity_window(private_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign_vc_jwt(_credential(), private_key, "k1")  # 2025-01-01T00:00Z .. 2025-12-31T16:00Z
    keys = [_public_jwk(private_key)]
    assert verify_vc_jwt(token, keys, now=datetime(2025, 1, 1, tzinfo=UTC))["issuer"] == ISSUER
    assert verify_vc_jwt(token, keys, now=datetime(2025, 12, 31, 16, tzinfo=UTC))["issuer"] == ISSUER
    before = datetime(2025, 1, 1, 7, 59, tzinfo=timezone(timedelta(hours=8)))
    assert _code(token, keys, now=before) == "vc_jose.not_yet_valid"
    assert _code(token, keys, now=datetime(2025, 12, 31, 16, 0, 1, tzinfo=UTC)) == "vc_jose.expired"


def test_validity_defaults_to_the_current_time(private_key: ec.EllipticCurvePrivateKey) -> None:
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    token = sign_vc_jwt(_credential(validFrom=future, validUntil=None), private_key, "k1")
    with pytest.raises(VcJoseError) as caught:
        verify_vc_jwt(token, [_public_jwk(private_key)])
    assert caught.value.code == "vc_jose.not_yet_valid"


def test_jwt_nbf_and_exp_are_checked_too(private_key: ec.EllipticCurvePrivateKey) -> None:
    keys = [_public_jwk(private_key)]
    now = int(NOW.timestamp())
    not_yet = sign_vc_jwt(_credential(validFrom=None, validUntil=None, nbf=now + 1), private_key, "k1")
    assert _code(not_yet, keys) == "vc_jose.not_yet_valid"
    expired = sign_vc_jwt(_credential(validFrom=None, validUntil=None, exp=now), private_key, "k1")
    assert _code(expired, keys) == "vc_jose.expired"
    fine = sign_vc_jwt(_credential(nbf=now, exp=now + 1, iat="whenever"), private_key, "k1")
    assert verify_vc_jwt(fine, keys, now=NOW)["exp"] == now + 1


@pytest.mark.parametrize(
    "changes",
    [
        {"validFrom": "2025-01-01T00:00:00"},  # no offset: not an xsd:dateTimeStamp
        {"validFrom": "2025-01-01"},
        {"validFrom": "2025-13-01T00:00:00Z"},
        {"validFrom": "20250101T000000Z"},
        {"validFrom": 1735689600},
        {"validUntil": "2025-01-01t00:00:00z"},
        {"exp": "2030-01-01T00:00:00Z"},
        {"nbf": True},
        {"exp": 1e300},
    ],
)
def test_badly_written_dates(private_key: ec.EllipticCurvePrivateKey, changes: dict[str, Any]) -> None:
    token = _sign_raw(private_key, _credential(**changes))
    assert _code(token, [_public_jwk(private_key)]) == "vc_jose.date_format"


def test_naive_now_is_a_caller_error(private_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match="timezone") as caught:
        verify_vc_jwt(
            sign_vc_jwt(_credential(), private_key, "k1"),
            [_public_jwk(private_key)],
            now=datetime(2025, 1, 1),
        )
    assert not isinstance(caught.value, VcJoseError)


@pytest.mark.parametrize("keys", ["k1", {"kty": "EC"}, {"keys": "none"}, [["kty", "EC"]]])
def test_keys_of_the_wrong_shape_are_a_caller_error(
    private_key: ec.EllipticCurvePrivateKey, keys: Any
) -> None:
    with pytest.raises(TypeError):
        verify_vc_jwt(sign_vc_jwt(_credential(), private_key, "k1"), keys, now=NOW)


# --- signing --------------------------------------------------------------------------------------------


def test_sign_refuses_keys_other_than_p256() -> None:
    with pytest.raises(TypeError):
        sign_vc_jwt(_credential(), ec.generate_private_key(ec.SECP384R1()), "k1")
    with pytest.raises(TypeError):
        sign_vc_jwt(_credential(), ed25519.Ed25519PrivateKey.generate(), "k1")  # type: ignore[arg-type]


def test_sign_refuses_an_empty_kid(private_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match="kid"):
        sign_vc_jwt(_credential(), private_key, "")


@pytest.mark.parametrize(
    ("credential", "code"),
    [
        ({**_credential(), "vc": {}}, "vc_jose.claims"),
        (_credential(type=["VerifiablePresentation"]), "vc_jose.not_credential"),
        (_credential(iss="https://other.example"), "vc_jose.issuer"),
    ],
)
def test_sign_refuses_what_verify_would_refuse(
    private_key: ec.EllipticCurvePrivateKey, credential: dict[str, Any], code: str
) -> None:
    with pytest.raises(VcJoseError) as caught:
        sign_vc_jwt(credential, private_key, "k1")
    assert caught.value.code == code


def test_sign_refuses_non_json_numbers(private_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match="JSON"):
        sign_vc_jwt(_credential(ttl=float("nan")), private_key, "k1")


def test_check_credential_accepts_the_vector_credential() -> None:
    check_credential(json.loads((VECTORS / "credential-minimal.json").read_text("utf-8")))


def test_error_pickles_and_prints_its_message() -> None:
    error = VcJoseError("vc_jose.typ", "typ must be vc+jwt")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (copy.code, copy.message, str(copy)) == ("vc_jose.typ", "typ must be vc+jwt", "typ must be vc+jwt")
