"""An upload copied to the import directory, hashed on the way (idempotency compares files)."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class StoredFile:
    path: Path
    sha256: str
    size: int
    head: bytes


def store_file(source: IO[bytes], directory: Path) -> StoredFile:
    """Copy an upload to the import directory, hashing it on the way (idempotency compares files)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"upload-{uuid.uuid4().hex}"
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with path.open("wb") as target:
            os.chmod(path, 0o600)  # personal data: readable by the service only
            while chunk := source.read(1 << 20):
                if not head:
                    head = chunk[:4096]
                digest.update(chunk)
                size += len(chunk)
                target.write(chunk)
    except BaseException:
        # A full disk (or anything else) leaves no partial copy holding ID numbers, nor space taken.
        path.unlink(missing_ok=True)
        raise
    return StoredFile(path, digest.hexdigest(), size, head)
