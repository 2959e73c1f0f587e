"""How a credential is named where personal data may not go: receipts and the audit of verifications."""

from __future__ import annotations

import hashlib


def reference_digest(kind: str, region: str, number: str) -> str:
    """SHA-256 of `kind|region|number`: the holder of an answer can recompute it, nobody can reverse it."""
    return hashlib.sha256(f"{kind}|{region}|{number}".encode()).hexdigest()
