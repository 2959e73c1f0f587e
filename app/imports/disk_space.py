"""The import directory running out of space: recognised wherever it surfaces, and named one way.

A full disk shows as OSError ENOSPC (or EDQUOT, a quota) when the upload, the scratch file or the in-file
duplicate keys (app.imports.seen) are written, and as SQLite's SQLITE_FULL when a SQLite database on the same
disk grows. Either way the job fails
with `import.disk_full`, its files are removed, and nothing of it is stored: the commit is one transaction.
"""

from __future__ import annotations

import errno
import logging
import sqlite3

from app.errors import AppError
from app.imports.messages import describe_zh

DISK_FULL_CODE = "import.disk_full"
DISK_FULL_MESSAGE = (
    "the import directory ran out of space; nothing of this import was stored. "
    "Try again later, or split the file (the operator frees or enlarges HUREN_IMPORT_DIR)"
)
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
log = logging.getLogger("huren.imports")


def log_disk_full(where: str) -> None:
    """The operator's line: the client was told 507, the operator must free or enlarge the directory."""
    log.warning(
        "import directory full (%s): nothing stored, files removed; free or enlarge HUREN_IMPORT_DIR", where
    )


def is_disk_full(exc: BaseException) -> bool:
    """True for the ways a full import directory is reported, including when it caused another error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        code = getattr(current, "sqlite_errorcode", None)
        if (
            isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_FULL
        ):  # the primary code of an extended one
            return True
        current = current.__cause__ or current.__context__
    return False


class ImportDiskFull(AppError):
    """507 Insufficient Storage: the server cannot store the upload. Not the client's fault, and not a 500:
    the answer says what happened and that nothing was kept."""

    status, slug, title = 507, "import-disk-full", "No space left to store the import"

    def __init__(self) -> None:
        super().__init__(
            DISK_FULL_MESSAGE,
            code=DISK_FULL_CODE,
            message_zh=describe_zh(DISK_FULL_CODE),
            headers={"Retry-After": "300"},
        )


def disk_full_problem() -> dict[str, object]:
    """The failed job's `problem`, as the 507 answer says it."""
    return {
        "code": DISK_FULL_CODE,
        "status": 507,
        "message": DISK_FULL_MESSAGE,
        "message_zh": describe_zh(DISK_FULL_CODE),
    }
