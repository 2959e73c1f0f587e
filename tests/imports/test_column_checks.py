"""The columnar checks against the registry's models: whatever a chunk's columnar checks accept, the models
accept with exactly the same values; every other row gets the models' own errors; the staging lines are the
row path's. Chunks of generated rows (valid rows with cells swapped for awkward ones, as in test_rows.py),
several rows a chunk, so that values shared between rows meet in the distinct-value checks."""

from __future__ import annotations

import unicodedata
from dataclasses import replace

import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.domain.masking import normalize_person_name
from app.imports.clean_rows import CleanRow
from app.imports.column_checks import CLEAN_SCHEMA, PLAIN_TEXT, check_chunk, clean_rows_of, frame_of
from app.imports.column_chunks import columns_of
from app.imports.parsing import COLUMNS, RawRow
from app.imports.row_chunks import RowChunk
from app.imports.staging import encode_line, staging_values
from app.imports.staging_frames import staging_block
from app.imports.validation import validate_chunk, validate_row_with_models
from app.privacy import PersonalDataVault
from app.registry.schemas import normalize_text
from tests.imports.test_rows import CLOSED_CQ, HELD_SC, TABLES, TODAY, id_numbers, mutated_rows, valid_row

KINDS = ["title", "skill", "card", "permit"]


def chunk_of(kind: str, rows: list[dict[str, str | None]]) -> RowChunk:
    return RowChunk(columns_of([RawRow(index + 1, values) for index, values in enumerate(rows)], kind))


def assert_chunk_agrees(kind: str, rows: list[dict[str, str | None]], tables: object = TABLES) -> None:
    """Row by row: the chunk's result is what the models make of the row alone (values, types, errors)."""
    assert isinstance(tables, type(TABLES))
    clean, errors = validate_chunk(kind, chunk_of(kind, rows), tables, TODAY)
    accepted = {row.row: row for row in clean_rows_of(clean)}
    for index, values in enumerate(rows):
        number = index + 1
        model_clean, model_errors = validate_row_with_models(kind, RawRow(number, values), tables)
        assert [e for e in errors if e.row == number] == model_errors, values
        assert accepted.get(number) == model_clean, values
        if model_clean is not None:
            # Equal is not enough (3 == 3.0, True == 1): every field must have the type the models give it.
            assert [type(v) for v in accepted[number]] == [type(v) for v in model_clean]


@st.composite
def chunks(draw: st.DrawFn, kind: str) -> list[dict[str, str | None]]:
    """A few rows, valid or mutated; some share the first row's mutated cells."""
    rows = draw(
        st.lists(st.one_of(st.builds(valid_row, st.just(kind)), mutated_rows(kind)), min_size=1, max_size=6)
    )
    if len(rows) > 1 and draw(st.booleans()):
        shared = draw(st.sampled_from(COLUMNS[kind]))
        rows[1][shared] = rows[0][shared]
    return rows


@pytest.mark.parametrize("kind", KINDS)
def test_valid_rows_are_accepted_by_the_columnar_checks(kind: str) -> None:
    rows = [valid_row(kind) for _ in range(30)]
    accepted, unsure = check_chunk(kind, chunk_of(kind, rows).frame, TABLES, TODAY)
    assert unsure == []
    assert clean_rows_of(accepted) == [
        validate_row_with_models(kind, RawRow(index + 1, values), TABLES)[0]
        for index, values in enumerate(rows)
    ]


@hypothesis_settings(max_examples=200, deadline=None)
@given(rows=chunks("title"))
def test_title_chunks_agree_with_the_models(rows: list[dict[str, str | None]]) -> None:
    assert_chunk_agrees("title", rows)


@hypothesis_settings(max_examples=200, deadline=None)
@given(rows=chunks("skill"))
def test_skill_chunks_agree_with_the_models(rows: list[dict[str, str | None]]) -> None:
    assert_chunk_agrees("skill", rows)


@hypothesis_settings(max_examples=200, deadline=None)
@given(rows=chunks("card"))
def test_card_chunks_agree_with_the_models(rows: list[dict[str, str | None]]) -> None:
    assert_chunk_agrees("card", rows)


@hypothesis_settings(max_examples=200, deadline=None)
@given(rows=chunks("permit"))
def test_permit_chunks_agree_with_the_models(rows: list[dict[str, str | None]]) -> None:
    assert_chunk_agrees("permit", rows)


@hypothesis_settings(max_examples=100, deadline=None)
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_chunks_agree_with_the_models_on_a_node_of_one_region(data: st.DataObject, kind: str) -> None:
    assert_chunk_agrees(kind, data.draw(chunks(kind)), HELD_SC)


@hypothesis_settings(max_examples=100, deadline=None)
@given(rows=chunks("card"))
def test_card_chunks_agree_when_a_system_stopped_issuing(rows: list[dict[str, str | None]]) -> None:
    assert_chunk_agrees("card", rows, CLOSED_CQ)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    numbers=st.lists(id_numbers(), min_size=1, max_size=8),
    id_type=st.sampled_from([None, "resident_id", "passport", "hmt_permit"]),
)
def test_document_numbers_checked_on_the_column_agree_with_the_models(
    numbers: list[str], id_type: str | None
) -> None:
    # Resident IDs one character off (check character, birth date, province, shape), cut, or born too late.
    rows = [
        valid_row("title") | {"holder_id_number": number, "holder_id_type": id_type} for number in numbers
    ]
    assert_chunk_agrees("title", rows)


NAMES = st.lists(
    st.sampled_from(["张", "A", "1", " ", "·", ".", "\u3000", "Ａ", "\u200b", "a\u0301", "字" * 50, "\\"]),
    max_size=8,
).map("".join)


@hypothesis_settings(max_examples=200, deadline=None)
@given(names=st.lists(NAMES, min_size=1, max_size=6), numbers=st.lists(NAMES, min_size=6, max_size=6))
def test_names_and_numbers_of_any_spelling_agree_with_the_models(
    names: list[str], numbers: list[str]
) -> None:
    rows = [
        valid_row("title") | {"holder_name": name.strip() or None, "number": number.strip() or None}
        for name, number in zip(names, numbers, strict=False)
    ]
    assert_chunk_agrees("title", rows)


def test_the_clean_schema_is_clean_rows_shape() -> None:
    assert tuple(CLEAN_SCHEMA) == CleanRow._fields


def test_plain_text_is_left_alone_by_every_normaliser() -> None:
    # The columnar checks take a plain spelling as its own normal form: check every character of the class.
    pattern = PLAIN_TEXT.removeprefix("^[").removesuffix("]+$")
    characters = pl.Series([chr(code) for code in range(0x30000) if code < 0xD800 or code > 0xDFFF])
    plain = characters.filter(characters.str.contains(f"^[{pattern}]$")).to_list()
    assert len(plain) == 10 + 52 + (0x9FEF - 0x4E00 + 1)
    for character in plain:
        assert unicodedata.normalize("NFKC", character) == character
        assert normalize_text(character) == character
        assert normalize_person_name(character) == character


@hypothesis_settings(max_examples=200, deadline=None)
@given(text=st.from_regex(PLAIN_TEXT, fullmatch=True))
def test_plain_strings_are_left_alone_by_every_normaliser(text: str) -> None:
    assert normalize_text(text) == text
    assert normalize_person_name(text) == text


@pytest.mark.parametrize("kind", KINDS)
def test_staging_lines_of_a_frame_are_the_row_paths(kind: str) -> None:
    rows = [valid_row(kind) for _ in range(20)]
    if kind == "title":
        rows[3]["specialty"] = "back\\slash"  # COPY escapes it
        rows[4]["approval_no"] = None
    clean, errors = validate_chunk(kind, chunk_of(kind, rows), TABLES, TODAY)
    assert errors == []
    hashes = [f"h{index:031d}" for index in range(clean.height)]
    ciphers = [f"v1:c{index}" for index in range(clean.height)]
    expected = "".join(
        encode_line(staging_values(row, id_hash, cipher))
        for row, id_hash, cipher in zip(clean_rows_of(clean), hashes, ciphers, strict=True)
    )
    assert staging_block(clean, hashes, ciphers) == expected.encode()


def test_rows_the_row_path_accepts_join_the_columnar_ones_in_order() -> None:
    rows = [valid_row("title") for _ in range(5)]
    rows[2]["holder_id_number"] = rows[2]["holder_id_number"].lower()  # type: ignore[union-attr]
    rows[2]["issued_on"] = "2022-06-01"
    clean, errors = validate_chunk("title", chunk_of("title", rows), TABLES, TODAY)
    assert errors == []
    assert clean["row"].to_list() == [1, 2, 3, 4, 5]
    assert frame_of(clean_rows_of(clean)).equals(clean)


def test_a_row_of_another_region_is_refused_on_a_node_of_one_region() -> None:
    rows = [valid_row("title") | {"region": "CQ"}, valid_row("title") | {"region": "SC"}]
    clean, errors = validate_chunk(
        "title", chunk_of("title", rows), replace(TABLES, held=frozenset({"SC"})), TODAY
    )
    assert clean["row"].to_list() == [2]
    assert [(e.row, e.column, e.code) for e in errors] == [(1, "region", "region.not_held")]


def test_the_batched_keyed_hash_is_the_vaults() -> None:
    vault = PersonalDataVault(lookup_key=b"k" * 32, data_key=b"d" * 32)
    documents = [("resident_id", "510104198201130014"), ("passport", "E12345678"), ("passport", "字")]
    hashes = vault.hash_documents([t for t, _ in documents], [n for _, n in documents])
    assert hashes == [vault.hash_document(t, n) for t, n in documents]


@pytest.mark.parametrize("odd", ["tab\tinside", "line\nbreak\r", "back\\slash\\N", "\\N", "x"])
def test_staging_lines_escape_as_the_row_path_does(odd: str) -> None:
    # Validated text never holds a tab or a line break; the lines would still be the row path's if it did.
    clean, _ = validate_chunk(
        "title", chunk_of("title", [valid_row("title") for _ in range(3)]), TABLES, TODAY
    )
    rows = [row._replace(specialty=odd, approval_no=None) for row in clean_rows_of(clean)]
    expected = "".join(encode_line(staging_values(row, "h", "v1:c")) for row in rows)
    assert staging_block(frame_of(rows), ["h"] * 3, ["v1:c"] * 3) == expected.encode()
