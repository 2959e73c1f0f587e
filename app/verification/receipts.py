"""Verification receipts: a signed statement of what this node answered, to whom and when.

A receipt carries no personal data: the credential appears only as the SHA-256 of `kind|region|number`, which
the holder of the answer can recompute from the reference it asked about.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.keys import KeyStore
from app.security import RECEIPT, encode_token, new_jti


def receipt_claims(
    *,
    issuer: str,
    audience: str,
    reference: str,
    outcome: str,
    checked_at: datetime,
    ttl: timedelta,
    caller_region: str,
    version: int | None,
    recognition: str | None,
) -> dict[str, Any]:
    issued = int(checked_at.timestamp())
    return {
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + int(ttl.total_seconds()),
        "jti": new_jti(),
        "ref": reference,
        "outcome": outcome,
        "caller_region": caller_region,
        "version": version,
        "recognition": recognition,
    }


def sign_receipt(claims: dict[str, Any], keys: KeyStore) -> str:
    return encode_token(RECEIPT, claims, keys)
