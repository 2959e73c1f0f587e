"""Where a sign-in may send the browser afterwards: a path of this node, never another site."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_LANDING = "/counter"
MAX_NEXT_LENGTH = 500


def safe_next_path(value: str | None, default: str = DEFAULT_LANDING) -> str:
    """`value` if it is a plain path of this node, else `default`.

    Refused: absolute URLs, scheme-relative ones (`//evil.example`), backslashes (browsers read `/\\evil`
    as `//evil`), control characters and white space (a browser drops some of them before it parses).
    """
    if not value or len(value) > MAX_NEXT_LENGTH or not value.startswith("/"):
        return default
    if value.startswith("//") or "\\" in value or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
