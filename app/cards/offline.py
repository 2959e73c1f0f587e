"""Offline card-token verification: a token, the issuer's JWKS and its status lists in, an outcome out.

No server, no database: the counter node, a peer node holding copies of the issuer's keys and lists, and third
parties all run this same function. The order of checks matters: nothing in a token is believed before its
signature holds, and a genuine token past its end is `expired`, while a forged one is never more than
`no_match`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import jwt

from app.cards.status_list import Bitstring
from app.cards.tokens import CARD_AUDIENCE
from app.domain.calendar import china_today

CARD_TYP = "huren-card+jwt"
ALGORITHM = "ES256"
LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True)
class OfflineCheck:
    id: str
    passed: bool
    code: str


@dataclass(frozen=True)
class OfflineResult:
    outcome: str  # valid | suspended | revoked | expired | no_match
    checks: tuple[OfflineCheck, ...]
    claims: Mapping[str, Any] = field(default_factory=dict)


class StatusListMissing(LookupError):
    """The token names a status list the caller holds no copy of: the status cannot be known."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def refuse(code: str) -> OfflineResult:
    return OfflineResult("no_match", (OfflineCheck("token.signature", False, code),))


def find_key(jwks: Mapping[str, Any], kid: Any) -> Any | None:
    for jwk in jwks.get("keys", []):
        if (
            isinstance(kid, str)
            and isinstance(jwk, Mapping)
            and jwk.get("kid") == kid
            and jwk.get("kty") == "EC"
        ):
            return load_key(str(jwk.get("crv")), str(jwk.get("x")), str(jwk.get("y")))
    return None


@lru_cache(maxsize=256)
def load_key(crv: str, x: str, y: str) -> Any | None:
    # Parsing a JWK into a key object costs a tenth of a verification: keys repeat, so parse each once.
    try:
        return jwt.PyJWK({"kty": "EC", "crv": crv, "x": x, "y": y}, algorithm=ALGORITHM).key
    except jwt.PyJWTError:
        return None


_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def peek_header(token: str) -> dict[str, Any] | None:
    """The unverified header, read only to choose the key; PyJWT checks it again with the signature.

    (PyJWT's own header reader validates the alphabet one character at a time in Python: reading the header
    through it as well as verifying doubled that cost, a third of a whole verification.)
    """
    return peek_segment(token, 0)


def peek_claims(token: str) -> dict[str, Any] | None:
    """The unverified claims, read only to choose whose keys to check them with."""
    return peek_segment(token, 1)


def peek_segment(token: str, index: int) -> dict[str, Any] | None:
    segments = token.split(".")
    if len(segments) != 3 or not _BASE64URL.fullmatch(segments[index]):
        return None
    part = segments[index]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


def read_verified_claims(
    token: str, jwks: Mapping[str, Any], issuers: Collection[str]
) -> dict[str, Any] | str:
    """The claims of a token whose signature, typ, alg, issuer and audience hold; else the reason code."""
    if len(token) > MAX_TOKEN_LENGTH:
        return "token.too_long"
    header = peek_header(token)
    if header is None:
        return "token.malformed"
    if header.get("alg") != ALGORITHM:
        return "token.algorithm"
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower().removeprefix("application/") != CARD_TYP:
        return "token.typ"
    if {"crit", "jku", "x5u", "jwk", "x5c"} & header.keys():
        return "token.header"
    key = find_key(jwks, header.get("kid"))
    if key is None:
        return "token.unknown_key"
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=CARD_AUDIENCE,
            options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_exp": False, "strict_aud": True},
        )
    except jwt.InvalidSignatureError:
        return "token.signature"
    except jwt.PyJWTError:
        return "token.claims"
    if claims.get("iss") not in issuers:
        return "token.issuer"
    return claims


def card_claims_well_formed(claims: Mapping[str, Any]) -> bool:
    if not all(isinstance(claims.get(name), str) and claims[name] for name in ("cn", "rg", "cs", "cc")):
        return False
    try:
        parse_day(claims.get("vf"))
        parse_day(claims.get("vu"))
    except ValueError:
        return False
    return isinstance(claims.get("exp"), int | float) and not isinstance(claims.get("exp"), bool)


def parse_day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def window_check(claims: Mapping[str, Any], now: datetime) -> OfflineCheck:
    today = china_today(now)
    valid_from, valid_until = parse_day(claims.get("vf")), parse_day(claims.get("vu"))
    if valid_until is not None and valid_until < today:
        return OfflineCheck("validity.window", False, "validity.ended")
    if valid_from is not None and valid_from > today:
        return OfflineCheck("validity.window", False, "validity.not_started")
    return OfflineCheck("validity.window", True, "validity.within")


def status_bits(claims: Mapping[str, Any], lists: Mapping[str, Bitstring]) -> tuple[bool, bool]:
    """(revoked, suspended) from the lists the token points at."""
    ref = claims.get("st")
    if not isinstance(ref, Mapping) or not isinstance(ref.get("i"), int) or isinstance(ref.get("i"), bool):
        raise ValueError("status reference missing")
    flags = []
    for purpose in ("r", "s"):
        url = ref.get(purpose)
        if not isinstance(url, str):
            raise ValueError("status list URL missing")
        if url not in lists:
            raise StatusListMissing(url)
        bits = lists[url]
        if not 0 <= ref["i"] < bits.size:
            raise ValueError("status index outside the list")
        flags.append(bits.get(ref["i"]))
    return flags[0], flags[1]


def verify_card_token(
    token: str,
    jwks: Mapping[str, Any],
    status_lists: Mapping[str, Bitstring],
    *,
    issuers: Collection[str],
    now: datetime | None = None,
) -> OfflineResult:
    """Check a card token offline. Raises StatusListMissing when a list it names was not supplied."""
    now = now or datetime.now(UTC)
    verified = read_verified_claims(token.strip(), jwks, issuers)
    if isinstance(verified, str):
        return refuse(verified)
    claims = verified
    checks = [OfflineCheck("token.signature", True, "token.ok")]
    if not card_claims_well_formed(claims):
        # Signed, but not a card token this verifier understands: never a guess about it.
        return OfflineResult(
            "no_match", (*checks, OfflineCheck("token.claims", False, "token.claims_invalid"))
        )
    expired = float(claims["exp"]) + LEEWAY_SECONDS < now.timestamp()
    checks.append(OfflineCheck("token.expiry", not expired, "token.expired" if expired else "token.current"))
    try:
        revoked, suspended = status_bits(claims, status_lists)
    except ValueError:
        return OfflineResult(
            "no_match", (*checks, OfflineCheck("status.list", False, "status.reference_invalid"))
        )
    status_code = "status.revoked" if revoked else "status.suspended" if suspended else "status.clear"
    checks.append(OfflineCheck("status.list", not (revoked or suspended), status_code))
    window = window_check(claims, now)
    checks.append(window)
    if revoked:
        outcome = "revoked"
    elif suspended:
        outcome = "suspended"
    elif expired or not window.passed:
        outcome = "expired"
    else:
        outcome = "valid"
    return OfflineResult(outcome, tuple(checks), claims)


def describe(result: OfflineResult) -> str:
    """One line for logs and the command line: never the token, never the name."""
    return json.dumps({"outcome": result.outcome, "checks": [c.code for c in result.checks]})
