"""Keyset-page cursors: opaque to callers (base64url of a small JSON object), checked on the way back in so
that a cursor this node did not issue is a 422 naming `cursor`, never a query that fails."""

from __future__ import annotations

import base64
import binascii
import json

from app.errors import InvalidInput, invalid_field


def not_ours() -> InvalidInput:
    return invalid_field("cursor", "cursor.invalid", "not a cursor this service issued", "query")


def encode_cursor(values: dict[str, str | int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *keys: str) -> dict[str, str | int]:
    """The cursor's values, which must be exactly `keys`."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(decoded, dict) or set(decoded) != set(keys):
            raise ValueError
        return decoded
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise not_ours() from None


def decode_after_id(cursor: str) -> int:
    """The last id a page showed (`{"after": id}`)."""
    after = decode_cursor(cursor, "after")["after"]
    # A bigint key: anything past it is no cursor of ours (and would overflow the query's parameter).
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
        raise not_ours()
    return after
