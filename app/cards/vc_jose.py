"""VC-JOSE (W3C "Securing Verifiable Credentials using JOSE and COSE"): verify and sign vc+jwt credentials.

Policy, beyond the signature:
- `typ` is required and must name application/vc+jwt (`vc+jwt` or `application/vc+jwt`, any case, RFC 7515
  §4.1.9); presentations (`vp+jwt`), SD-JWT (`vc+sd-jwt`), plain `JWT` and the draft `vc+ld+json+jwt` are
  refused.
- `cty` is optional; when present it must name application/vc (`vc` or `application/vc`).
- `crit` and `b64` are refused (no JWS extension is understood here); keys embedded in or pointed at by the
  header (`jwk`, `jku`, `x5c`, `x5u`) are ignored: the key comes only from the caller's trusted set.
- The payload is the credential itself (VCDM 2.0): the JWT claims `vc` and `vp` are forbidden, `@context` must
  start with the VCDM 2.0 context, `type` must contain VerifiableCredential, `issuer` and `credentialSubject`
  must be present, and `iss`, when present, must equal the issuer's id.
- Validity: `validFrom`/`validUntil` (XML Schema dateTimeStamp, offset required) and the JWT `nbf`/`exp`
  (numeric dates), whichever are present, are checked against `now` with no leeway (pass `now` to allow skew).
- `iat` is informational and not checked at all: VCDM 2.0 puts the time semantics in validFrom, and the W3C
  test vectors carry a string `iat` that PyJWT's claim validation would reject. That is why the payload is
  verified with PyJWS (signature only) and parsed here, rather than with jwt.decode.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.api_jws import PyJWS

from app.domain.errors import DomainError

VC_CONTEXT_V2 = "https://www.w3.org/ns/credentials/v2"
CREDENTIAL_TYP = "vc+jwt"
CREDENTIAL_CTY = "vc"
SIGNING_ALG = "ES256"

# Asymmetric JWS algorithms a caller may allow. Never "none" and never HMAC: a verifier that trusts a
# public key must not accept a MAC keyed with that same public key (RFC 8725 §2.1, §3.1).
ASYMMETRIC_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "ES256K", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
# Status-list credentials of 16 MiB decompressed stay far below this; it only bounds the work on junk.
MAX_TOKEN_CHARS = 32 * 2**20

_FORBIDDEN_HEADER_MEMBERS = frozenset({"crit", "b64"})
_FORBIDDEN_CLAIMS = frozenset({"vc", "vp"})
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_DATE_TIME_STAMP = re.compile(
    r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


class VcJoseError(DomainError):
    """A VC-JOSE token was refused (a DomainError: stable dotted code, English message)."""


def verify_vc_jwt(
    token: str,
    keys: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    algorithms: Collection[str] = (SIGNING_ALG,),
    now: datetime | None = None,
) -> dict[str, Any]:
    """Verify a compact vc+jwt against trusted public JWKs and return the credential (the JWT payload).

    `keys` is a JWKS (`{"keys": [...]}`) or a list of JWKs. The header's `kid` picks the key; without a
    `kid`, a single given key is used. Raises VcJoseError; raises plain ValueError/TypeError for a caller
    mistake (an algorithm outside ASYMMETRIC_ALGORITHMS, a naive `now`, keys of the wrong shape).
    """
    allowed = _allowed_algorithms(algorithms)
    moment = _aware_now(now)
    jwks = _key_list(keys)
    header = _read_header(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed:
        raise VcJoseError("vc_jose.algorithm", "the token's algorithm is not allowed")
    _check_media_types(header)
    key = _verification_key(_select_jwk(jwks, header.get("kid")), alg)
    credential = _parse_payload(_verified_payload(token, key, alg))
    check_credential(credential)
    _check_validity(credential, moment)
    return credential


def sign_vc_jwt(credential: Mapping[str, Any], private_key: ec.EllipticCurvePrivateKey, kid: str) -> str:
    """Sign a credential as a compact JWS: ES256, `typ` vc+jwt, `cty` vc, the credential as the payload."""
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise TypeError("sign_vc_jwt needs a P-256 private key (ES256)")
    if not isinstance(kid, str) or not kid:
        raise ValueError("kid must be a non-empty string")
    payload = dict(credential)
    check_credential(payload)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    headers = {"typ": CREDENTIAL_TYP, "cty": CREDENTIAL_CTY, "kid": kid}
    return PyJWS().encode(body, private_key, algorithm=SIGNING_ALG, headers=headers)


def check_credential(payload: Mapping[str, Any]) -> None:
    """The payload rules of VC-JOSE for a credential (no signature involved); raises VcJoseError."""
    if _FORBIDDEN_CLAIMS & payload.keys():
        raise VcJoseError("vc_jose.claims", "the JWT claims vc and vp must not be used with VC-JOSE")
    context = payload.get("@context")
    if not isinstance(context, list) or not context or context[0] != VC_CONTEXT_V2:
        raise VcJoseError("vc_jose.not_credential", f"@context must be a list starting with {VC_CONTEXT_V2}")
    types = payload.get("type")
    type_list = [types] if isinstance(types, str) else types
    if not isinstance(type_list, list) or "VerifiableCredential" not in type_list:
        raise VcJoseError("vc_jose.not_credential", "type must contain VerifiableCredential")
    issuer = _issuer_id(payload.get("issuer"))
    if not isinstance(payload.get("credentialSubject"), (Mapping, list)):
        raise VcJoseError("vc_jose.not_credential", "credentialSubject is missing")
    if "iss" in payload and payload["iss"] != issuer:
        raise VcJoseError("vc_jose.issuer", "iss does not match the credential's issuer")


def _issuer_id(issuer: object) -> str:
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or not issuer:
        raise VcJoseError("vc_jose.not_credential", "issuer must be a URL or an object with an id")
    return issuer


def _allowed_algorithms(algorithms: Collection[str]) -> frozenset[str]:
    if isinstance(algorithms, str):
        raise TypeError("algorithms must be a collection of names, not one string")
    allowed = frozenset(algorithms)
    if not allowed or not allowed <= ASYMMETRIC_ALGORITHMS:
        raise ValueError(f"algorithms must be a non-empty subset of {sorted(ASYMMETRIC_ALGORITHMS)}")
    return allowed


def _aware_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now


def _key_list(keys: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(keys, Mapping):
        members = keys.get("keys")
        if not isinstance(members, list):
            raise TypeError('a JWKS must be a mapping with a "keys" list')
        keys = members
    if isinstance(keys, (str, bytes)) or not all(isinstance(jwk, Mapping) for jwk in keys):
        raise TypeError("keys must be a JWKS or a sequence of JWK mappings")
    return list(keys)


def _read_header(token: str) -> dict[str, Any]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _COMPACT_JWS.fullmatch(token):
        raise VcJoseError("vc_jose.malformed", "not a compact JWS (three base64url parts)")
    # Parsed here rather than by jwt.get_unverified_header, which would refuse crit/b64 with a generic
    # error, and would let a repeated member name through.
    header = _parse_json_object(_b64url_decode(token.split(".", 1)[0]), "header")
    if header is None:
        raise VcJoseError("vc_jose.malformed", "the JWS header is not a JSON object")
    if _FORBIDDEN_HEADER_MEMBERS & header.keys():
        raise VcJoseError("vc_jose.header", "header members crit and b64 are not supported")
    return header


def _media_type(value: str) -> str:
    # RFC 7515 §4.1.9/§4.1.10: a value without "/" means "application/" + value; media types ignore case.
    lowered = value.lower()
    return lowered if "/" in lowered else "application/" + lowered


def _check_media_types(header: Mapping[str, Any]) -> None:
    typ = header.get("typ")
    if not isinstance(typ, str) or _media_type(typ) != "application/" + CREDENTIAL_TYP:
        raise VcJoseError("vc_jose.typ", "typ must be vc+jwt")
    cty = header.get("cty")
    if cty is not None and (not isinstance(cty, str) or _media_type(cty) != "application/" + CREDENTIAL_CTY):
        raise VcJoseError("vc_jose.cty", "cty, when present, must be vc")


def _select_jwk(jwks: list[Mapping[str, Any]], kid: object) -> Mapping[str, Any]:
    if kid is None:
        if len(jwks) == 1:
            return jwks[0]
        raise VcJoseError("vc_jose.kid", "the token names no kid and more than one key is trusted")
    if not isinstance(kid, str):
        raise VcJoseError("vc_jose.header", "kid must be a string")
    matches = [jwk for jwk in jwks if jwk.get("kid") == kid]
    if not matches:
        raise VcJoseError("vc_jose.kid", "the token's kid names no trusted key")
    if len(matches) > 1:
        raise VcJoseError("vc_jose.kid", "the token's kid names more than one trusted key")
    return matches[0]


def _verification_key(jwk: Mapping[str, Any], alg: str) -> jwt.PyJWK:
    """A public PyJWK bound to `alg`, refusing keys declared for another algorithm or use."""
    if jwk.get("kty") == "oct":
        raise VcJoseError("vc_jose.key", "symmetric keys are never used to verify credentials")
    if jwk.get("alg", alg) != alg:
        raise VcJoseError("vc_jose.algorithm", "the key is declared for another algorithm")
    if jwk.get("use", "sig") != "sig" or "verify" not in jwk.get("key_ops", ["verify"]):
        raise VcJoseError("vc_jose.key", "the key is not declared for verifying signatures")
    # Private members are dropped so that a JWKS holding a private key still verifies with its public half.
    public = {name: value for name, value in jwk.items() if name not in _PRIVATE_JWK_MEMBERS}
    try:
        return jwt.PyJWK(public, algorithm=alg)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        raise VcJoseError("vc_jose.key", "the key cannot be used with the token's algorithm") from None


def _verified_payload(token: str, key: jwt.PyJWK, alg: str) -> bytes:
    # enforce_minimum_key_length turns PyJWT's short-key warning into an error instead of a warning.
    jws = PyJWS(options={"enforce_minimum_key_length": True})
    try:
        decoded = jws.decode_complete(token, key, algorithms=[alg])
    except jwt.InvalidSignatureError:
        raise VcJoseError("vc_jose.signature", "the signature does not verify") from None
    except jwt.InvalidKeyError:
        raise VcJoseError("vc_jose.key", "the key cannot be used with the token's algorithm") from None
    except jwt.InvalidAlgorithmError:
        raise VcJoseError("vc_jose.algorithm", "the token's algorithm is not allowed") from None
    except jwt.PyJWTError:
        raise VcJoseError("vc_jose.malformed", "the token cannot be decoded") from None
    payload: bytes = decoded["payload"]
    return payload


def _b64url_decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise VcJoseError("vc_jose.malformed", "a token part is not base64url") from None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §5.2 and RFC 7519 §4: duplicate member names make the meaning ambiguous; refuse them.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise VcJoseError("vc_jose.malformed", "a token part repeats a member name")
    return result


def _refuse_constant(name: str) -> None:
    raise VcJoseError("vc_jose.malformed", f"a token part holds the non-JSON number {name}")


def _parse_json_object(data: bytes, part: str) -> dict[str, Any] | None:
    """The JSON object in a token part, None for other JSON values; VcJoseError for anything not JSON."""
    try:
        parsed = json.loads(
            data.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_constant=_refuse_constant
        )
    except VcJoseError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise VcJoseError("vc_jose.malformed", f"the {part} is not UTF-8 JSON") from None
    return parsed if isinstance(parsed, dict) else None


def _parse_payload(payload: bytes) -> dict[str, Any]:
    credential = _parse_json_object(payload, "payload")
    if credential is None:
        raise VcJoseError("vc_jose.not_credential", "the payload is not a JSON object")
    return credential


def _check_validity(credential: Mapping[str, Any], now: datetime) -> None:
    valid_from = _date_time_stamp(credential, "validFrom")
    not_before = _numeric_date(credential, "nbf")
    if (valid_from is not None and now < valid_from) or (not_before is not None and now < not_before):
        raise VcJoseError("vc_jose.not_yet_valid", "the credential is not valid yet")
    valid_until = _date_time_stamp(credential, "validUntil")
    expires = _numeric_date(credential, "exp")
    if (valid_until is not None and now > valid_until) or (expires is not None and now >= expires):
        raise VcJoseError("vc_jose.expired", "the credential has expired")


def _date_time_stamp(credential: Mapping[str, Any], name: str) -> datetime | None:
    value = credential.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE_TIME_STAMP.fullmatch(value):
        raise VcJoseError("vc_jose.date_format", f"{name} must be a date-time with a time zone offset")
    try:
        return datetime.fromisoformat(value)
    except ValueError:  # e.g. month 13, or a year outside 1..9999
        raise VcJoseError("vc_jose.date_format", f"{name} is not a valid date-time") from None


def _numeric_date(credential: Mapping[str, Any], name: str) -> datetime | None:
    value = credential.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise VcJoseError("vc_jose.date_format", f"{name} must be a NumericDate (seconds since the epoch)")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise VcJoseError("vc_jose.date_format", f"{name} is out of range") from None
