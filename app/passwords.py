"""Slow hashing of secrets people and programs present: client secrets and staff passwords (Argon2id)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's minimum for Argon2id: 19 MiB, two passes. Slow for a guesser, ~20 ms for us.
HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# Checked against when there is no real hash (an unknown user name, a person with no password), so that
# the answer takes as long as a wrong password does and timing does not tell the cases apart.
DECOY_HASH = HASHER.hash("huren-decoy-password-never-matches")


def hash_secret(secret: str) -> str:
    return HASHER.hash(secret)


def secret_matches_hash(stored: str | None, secret: str) -> bool:
    """True when `secret` matches `stored`; with no stored hash, still spends one verification's time."""
    try:
        return HASHER.verify(stored or DECOY_HASH, secret) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return HASHER.check_needs_rehash(stored)
