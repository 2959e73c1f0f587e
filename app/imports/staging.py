"""The scratch file between an import's two passes: one line per clean row in PostgreSQL's COPY text format.

Each line is already the row of the staging table, holder columns included (keyed hash, AES-GCM cipher, masked
number), so the scratch never holds an ID number in clear, PostgreSQL loads it with COPY and no per-row Python
work, and SQLite reads it back with a split. The cipher format is the vault's own (checked by a test against
PersonalDataVault.decrypt_document); only the nonces and the AESGCM object are made once per batch.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Sequence
from datetime import date
from typing import Any, Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.domain.identity import IdType
from app.domain.masking import mask_document_number
from app.imports.clean_rows import CleanRow
from app.privacy import CIPHER_VERSION, PersonalDataVault

# Fields an import may change on an existing credential; any difference is a new version.
COMPARED_FIELDS: Final = (
    "holder_id",
    "issuer_id",
    "issued_on",
    "valid_from",
    "valid_until",
    "title_code",
    "specialty",
    "obtained_on",
    "approval_no",
    "review_body",
    "occupation_code",
    "occupation_name",
    "skill_level",
    "work_type",
    "number_format",
    "card_system",
    "card_class",
    "entitlements",
    "permit_class",
    "employer_name",
    "employer_usci",
)
# The row number, the staged holder and issuer columns, then the credential's key and its compared columns
# (bar the two ids).
STAGING_COLUMNS: Final = (
    "row_no",
    "id_hash",
    "id_type",
    "id_cipher",
    "id_masked",
    "holder_name",
    "birth_date",
    "sex",
    "issuer_usci",
    "issuer_name",
    "issuer_level",
    "kind",
    "region_code",
    "number",
    *COMPARED_FIELDS[2:],
)
DATE_COLUMNS: Final = frozenset({"birth_date", "issued_on", "valid_from", "valid_until", "obtained_on"})
NULL: Final = "\\N"
_ID_TYPES: Final = {member.value: member for member in IdType}
_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_ESCAPED: Final = re.compile(r"\\(.)")
_UNESCAPES: Final = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def encrypt_numbers(vault: PersonalDataVault, rows: Sequence[CleanRow]) -> list[str]:
    """AES-GCM ciphers of the rows' ID numbers, as PersonalDataVault.encrypt_document writes them."""
    return encrypt_documents(vault, [row.id_type for row in rows], [row.id_number for row in rows])


def encrypt_documents(vault: PersonalDataVault, id_types: Sequence[str], numbers: Sequence[str]) -> list[str]:
    """AES-GCM ciphers of ID numbers (with their types as authenticated data), as encrypt_document writes
    them."""
    cipher = AESGCM(vault.data_key)
    nonces = os.urandom(
        12 * len(numbers)
    )  # one system call for the batch; each nonce is still fresh randomness
    sealed = []
    for index, (id_type, number) in enumerate(zip(id_types, numbers, strict=True)):
        nonce = nonces[12 * index : 12 * index + 12]
        payload = cipher.encrypt(nonce, number.encode(), id_type.encode())
        sealed.append(f"{CIPHER_VERSION}:{base64.urlsafe_b64encode(nonce + payload).decode()}")
    return sealed


def staging_values(row: CleanRow, id_hash: str, id_cipher: str) -> tuple[str | None, ...]:
    """The staging-table row of a clean row as text (dates YYYY-MM-DD), in STAGING_COLUMNS order."""
    entitlements = json.dumps(list(row.entitlements)) if row.entitlements is not None else None
    level = str(row.skill_level) if row.skill_level is not None else None
    return (
        str(row.row),
        id_hash,
        row.id_type,
        id_cipher,
        mask_document_number(_ID_TYPES[row.id_type], row.id_number),
        row.holder_name,
        iso(row.birth_date),
        row.sex,
        row.issuer_usci,
        row.issuer_name,
        row.issuer_level,
        row.kind,
        row.region,
        row.number,
        row.issued_on.isoformat(),
        iso(row.valid_from),
        iso(row.valid_until),
        row.title_code,
        row.specialty,
        iso(row.obtained_on),
        row.approval_no,
        row.review_body,
        row.occupation_code,
        row.occupation_name,
        level,
        row.work_type,
        row.number_format,
        row.card_system,
        row.card_class,
        entitlements,
        row.permit_class,
        row.employer_name,
        row.employer_usci,
    )


def iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def encode_line(values: Sequence[str | None]) -> str:
    """One COPY-text line. Validated text is printable, so escaping is rarely needed: each NULL marker brings
    one backslash and each field boundary one tab, so any other backslash, tab or line break shows in the
    counts, and only then is every field escaped."""
    line = "\t".join([NULL if value is None else value for value in values])
    if (
        line.count("\\") != values.count(None)
        or line.count("\t") != len(values) - 1
        or "\n" in line
        or "\r" in line
    ):
        line = "\t".join([NULL if value is None else value.translate(_ESCAPES) for value in values])
    return line + "\n"


def decode_line(line: str) -> dict[str, Any]:
    """A scratch line back as typed values keyed by STAGING_COLUMNS (the SQLite commit reads it so)."""
    fields = line.rstrip("\n").split("\t")
    record: dict[str, Any] = {}
    for name, field in zip(STAGING_COLUMNS, fields, strict=True):
        if field == NULL:
            record[name] = None
            continue
        record[name] = unescape(field) if "\\" in field else field
    for name in DATE_COLUMNS:
        if record[name] is not None:
            record[name] = date.fromisoformat(record[name])
    record["row_no"] = int(record["row_no"])
    if record["skill_level"] is not None:
        record["skill_level"] = int(record["skill_level"])
    if record["entitlements"] is not None:
        record["entitlements"] = json.loads(record["entitlements"])
    return record


def unescape(field: str) -> str:
    return _ESCAPED.sub(lambda match: _UNESCAPES.get(match[1], match[1]), field)


def row_of_line(line: str | bytes) -> int:
    """The row number a scratch line starts with."""
    if isinstance(line, str):
        return int(line[: line.index("\t")])
    return int(line[: line.index(b"\t")])
