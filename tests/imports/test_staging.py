"""The scratch file between the passes: holder columns as the registry makes them, no ID number in clear,
and lines that survive any text."""

from __future__ import annotations

import base64
from datetime import date

from hypothesis import example, given
from hypothesis import strategies as st

from app.domain.identity import IdType
from app.imports.clean_rows import CleanRow
from app.imports.fast_checks import check_row_fast
from app.imports.staging import STAGING_COLUMNS, decode_line, encode_line, encrypt_numbers, staging_values
from app.privacy import PersonalDataVault
from app.registry.service import new_holder_values
from tests.imports.test_rows import TABLES, TODAY, valid_row

VAULT = PersonalDataVault(
    lookup_key=b"lookup-key-for-tests", data_key=base64.urlsafe_b64decode(b"A" * 43 + b"=")
)


def clean_title() -> CleanRow:
    row = check_row_fast("title", 5, valid_row("title"), TABLES, TODAY)
    assert row is not None
    return row


def test_holder_columns_are_the_registrys() -> None:
    row = clean_title()
    id_hash = VAULT.hash_document(row.id_type, row.id_number)
    (cipher,) = encrypt_numbers(VAULT, [row])
    staged = dict(zip(STAGING_COLUMNS, staging_values(row, id_hash, cipher), strict=True))
    expected = new_holder_values(VAULT, IdType(row.id_type), row.id_number, row.holder_name, id_hash)
    for column in ("id_type", "id_hash", "id_masked", "sex"):
        assert staged[column] == expected[column], column
    assert staged["birth_date"] == expected["birth_date"].isoformat()
    assert staged["holder_name"] == expected["name"]
    assert VAULT.decrypt_document(row.id_type, cipher) == row.id_number
    assert row.id_number not in encode_line(staging_values(row, id_hash, cipher))


def test_each_cipher_has_its_own_nonce() -> None:
    rows = [clean_title() for _ in range(50)]
    ciphers = encrypt_numbers(VAULT, rows)
    assert len({base64.urlsafe_b64decode(c.split(":", 1)[1])[:12] for c in ciphers}) == 50
    assert [VAULT.decrypt_document(r.id_type, c) for r, c in zip(rows, ciphers, strict=True)] == [
        r.id_number for r in rows
    ]


@given(st.lists(st.one_of(st.none(), st.text()), min_size=1, max_size=4))
@example(["\\N", "a\tb\\n", "\r\n", None])
def test_lines_round_trip_any_text(texts: list[str | None]) -> None:
    row = clean_title()
    values: list[str | None] = list(staging_values(row, "h" * 64, "v1:c"))
    names = ["holder_name", "specialty", "approval_no", "review_body"]
    for name, value in zip(names, texts, strict=False):
        values[STAGING_COLUMNS.index(name)] = value
    line = encode_line(values)
    assert line.endswith("\n")
    assert line.count("\n") == 1
    decoded = decode_line(line)
    for name, value in zip(names, texts, strict=False):
        assert decoded[name] == value
    assert decoded["issued_on"] == row.issued_on
    assert isinstance(decoded["birth_date"], date)
    assert decoded["row_no"] == 5
