"""SQLite's commit reads scratch lines into its staging table exactly: NULL markers as NULL, escaped text as
the text, whichever of its two ways a block takes (split and NULL in SQL, or unescaped in Python)."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.imports.batched import STAGE_STATEMENT_ROWS, BlockWriter, split_lines, staged_value
from app.imports.staging import STAGING_COLUMNS, encode_line, staging_values
from tests.imports.test_staging import clean_title

NAMES = ["holder_name", "specialty", "approval_no", "review_body"]


def staged_rows(lines: list[str], rows_a_statement: int | None = None) -> list[dict[str, object]]:
    db = sqlite3.connect(":memory:", isolation_level=None)
    if rows_a_statement is not None:  # how many rows one statement binds: SQLite's limit on parameters
        db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, rows_a_statement * len(STAGING_COLUMNS))
    try:
        writer = BlockWriter("2026-12-07 00:00:00.000000", None)
        writer.begin(db)
        writer.stage(split_lines("".join(lines).encode()), db)
        # As the block's statements read them.
        values = ", ".join(staged_value(name, markers=writer.markers) for name in STAGING_COLUMNS)
        cursor = db.execute(f"SELECT {values} FROM temp.import_staging AS s ORDER BY s.row_no")  # noqa: S608
        return [dict(zip(STAGING_COLUMNS, row, strict=True)) for row in cursor]
    finally:
        db.close()


@given(st.lists(st.one_of(st.none(), st.text(st.characters(exclude_categories=["Cs"]))), max_size=4))
@example(["\\N", "a\tb\\n", "\r\n", None])
@example([None, "plain", None, "\\"])
@example(["N\\", "\\\\N", "\\t", "x"])
def test_a_block_is_staged_as_written(texts: list[str | None]) -> None:
    row = clean_title()
    plain = list(staging_values(row, "h" * 64, "v1:c"))
    plain[STAGING_COLUMNS.index("specialty")] = None  # a NULL marker in a line without escapes
    odd = list(plain)
    odd[0] = str(int(plain[0] or 0) + 1)
    for name, value in zip(NAMES, texts, strict=False):
        odd[STAGING_COLUMNS.index(name)] = value
    staged = staged_rows([encode_line(plain), encode_line(odd)])
    for values, stored in zip((plain, odd), staged, strict=True):
        for name, value in zip(STAGING_COLUMNS, values, strict=True):
            expected = int(value) if value is not None and name in ("row_no", "skill_level") else value
            assert stored[name] == expected, name


def test_rows_bound_many_a_statement_keep_their_fields() -> None:
    row = clean_title()
    written = []
    for number in range(1, 12):
        values = list(staging_values(row, f"{number:064d}", "v1:c"))
        values[0] = str(number)
        values[STAGING_COLUMNS.index("specialty")] = None if number % 3 else f"专业{number}"
        written.append(values)
    # 11 rows, 3 a statement: three statements, then two rows by executemany.
    staged = staged_rows([encode_line(values) for values in written], rows_a_statement=3)
    assert [[stored[name] for name in STAGING_COLUMNS] for stored in staged] == [
        [
            int(v) if v is not None and n in ("row_no", "skill_level") else v
            for n, v in zip(STAGING_COLUMNS, values, strict=True)
        ]
        for values in written
    ]


def test_a_statement_takes_at_most_its_rows_whatever_sqlite_binds() -> None:
    """SQLite's own bound (250,000 parameters on Debian) would take a whole block a statement; the block is
    staged STAGE_STATEMENT_ROWS at a time instead, every row intact."""
    row = clean_title()
    count = 2 * STAGE_STATEMENT_ROWS + 345
    written = []
    for number in range(1, count + 1):
        values = list(staging_values(row, f"{number:064d}", "v1:c"))
        values[0] = str(number)
        written.append(values)
    staged = staged_rows(
        [encode_line(values) for values in written], rows_a_statement=10 * STAGE_STATEMENT_ROWS
    )
    assert [stored["row_no"] for stored in staged] == list(range(1, count + 1))
    assert [stored["id_hash"] for stored in staged] == [
        values[STAGING_COLUMNS.index("id_hash")] for values in written
    ]


def test_a_line_short_of_a_field_is_refused() -> None:
    line = encode_line(staging_values(clean_title(), "h" * 64, "v1:c"))
    short = line.replace("\t", "", 1)
    with pytest.raises(ValueError, match="one field for each staging column"):
        staged_rows([line, short])
