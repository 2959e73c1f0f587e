"""The import's lean row checks against the registry's models: whatever the lean checks accept, the models
accept with exactly the same values; whatever they cannot vouch for goes to the models, so errors are the
models' own. Generated from valid rows with cells swapped for awkward ones."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.domain.calendar import china_today
from app.domain.errors import DomainError
from app.domain.identity import parse_canonical_resident_id, parse_resident_id
from app.imports import model_rules
from app.imports.code_tables import CodeTables
from app.imports.fast_checks import check_row_fast
from app.imports.parsing import COLUMNS, RawRow, RowProblem
from app.imports.validation import flatten_payload, validate_row, validate_row_with_models
from app.registry.schemas import SkillIn
from tests.factories import card_payload, permit_payload, resident_id, skill_payload, title_payload

DATA = Path(__file__).resolve().parents[2] / "app" / "reference" / "data"


def load_data(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def reference_tables() -> CodeTables:
    """The code tables as the migrations load them, read from the same reference files."""
    load = load_data
    systems = load("card_systems.json")
    return CodeTables(
        regions=frozenset(r["code"] for r in load("regions.json")),
        title_codes=frozenset(t["code"] for t in load("title_codes.json")),
        skill_levels=frozenset(level["level"] for level in load("skill_levels.json")),
        card_system_regions={s["code"]: s["region"] for s in systems},
        card_classes=frozenset((s["code"], c["code"]) for s in systems for c in s["classes"]),
        card_services={s["code"]: frozenset(v["code"] for v in s["services"]) for s in systems},
        card_issuing_windows={
            s["code"]: (
                date.fromisoformat(s["issuing_from"]) if s["issuing_from"] else None,
                date.fromisoformat(s["issuing_until"]) if s["issuing_until"] else None,
            )
            for s in systems
            if s["issuing_from"] or s["issuing_until"]
        },
        permit_classes=frozenset(c["code"] for c in load("permit_classes.json")),
    )


TABLES = reference_tables()
TODAY = china_today()
FUTURE = (TODAY + timedelta(days=1)).isoformat()

# Cells that the models treat in some particular way: spellings they normalise or refuse, lengths at the
# bounds, invisible and control characters, dates in other spellings, numbers that are nearly right.
AWKWARD = [
    None,
    "",
    " ",
    "x",
    "\u200b",
    "\u3000中文\u3000",
    "ＡＢＣ１２３",
    "a\u0301",
    "tab\tinside",
    "back\\slash",
    "line\nbreak",
    "\ufeffbom",
    "1" * 10,
    "2" * 16,
    "A" * 51,
    "字" * 64,
    "字" * 65,
    "w" * 101,
    "w" * 201,
    "2022-06-01",
    "2022-6-1",
    "20220601",
    "2022-06-01T00:00:00",
    "2022-06-01 00:00",
    "2021-02-30",
    "0001-01-01",
    "1999-12-31",
    FUTURE,
    "1",
    "3",
    "5",
    "6",
    "7",
    "8",
    "07",
    "99",
    "100",
    "0",
    "3.0",
    " 3",
    "+3",
    "٣",
    "true",
    "SC",
    "CQ",
    "sc",
    "GD",
    "resident_id",
    "passport",
    "hmt_permit",
    "foreign_permanent_resident",
    "RESIDENT_ID",
    "province",
    "city",
    "Province",
    "0502",
    "０５０２",
    "05X2",
    "9999",
    "6-31-01-03",
    "6–31–01–03",
    "6-31-01-03-01",
    "9-31-01-03",
    "cq-yingcai",
    "sc-tianfu",
    "A1",
    "A",
    "Z9",
    "hukou;housing",
    "hukou;;healthcare",
    "hukou; HOUSING",
    "unknown.service",
    "E12345678",
    "H12345678",
    "510104198201130014",
    "51010419820113001x",
    "510104820113001",
    "11510000MB0A12345X",
    "91350100M000100Y43",
    "123456789012345678",
    "１２３４５６７８９０１２３４５６７８",
    "1234 5678 9012 3456 78",
    "12345678901234567",
    "B",
    "C",
    "a",
    "USA123456789012",
]


def valid_row(kind: str) -> dict[str, str | None]:
    makers = {"title": title_payload, "skill": skill_payload, "card": card_payload, "permit": permit_payload}
    payload = makers[kind]()
    if kind == "card":
        payload["entitlements"] = ["hukou", "housing"] if payload["region"] == "CQ" else ["hukou"]
    flat = flatten_payload(payload)
    return {column: flat.get(column) or None for column in COLUMNS[kind]}


# The models' length bounds, checked on the raw cell: values at, below and above each bound are generated.
MAX_LENGTHS = {
    "number": 64,
    "holder_name": 50,
    "holder_id_number": 40,
    "issuer_name": 200,
    "issuer_usci": 40,
    "title_code": 10,
    "specialty": 100,
    "approval_no": 100,
    "review_body": 200,
    "occupation_code": 20,
    "occupation_name": 100,
    "work_type": 100,
    "employer_name": 200,
    "employer_usci": 40,
}
DATE_COLUMNS = ("issued_on", "valid_from", "valid_until", "obtained_on")
DATES = [
    "2020-01-01",
    "2021-05-05",
    "2022-03-15",
    "2022-06-01",
    "2023-01-01",
    "2099-12-31",
    TODAY.isoformat(),
    FUTURE,
    "20220601",
    "2022-06-01T00:00:00",
    "2022-06-01T00:00:00Z",
    "2022-W22-3",
    "2022-06-01 ",
    "1654041600",
    "2022-13-01",
]


def column_values(column: str) -> st.SearchStrategy[str | None]:
    """Awkward cells for any column, plus those that probe this column's own rules."""
    generic: list[st.SearchStrategy[str | None]] = [
        st.sampled_from(AWKWARD),
        st.text(max_size=12),
        st.integers(0, 10_000).map(lambda serial: resident_id(serial=serial)),
    ]
    if column in DATE_COLUMNS:
        generic.append(st.sampled_from(DATES))
    if column in MAX_LENGTHS:
        bound = MAX_LENGTHS[column]
        generic.append(
            st.tuples(st.integers(bound - 1, bound + 1), st.sampled_from("A1字·")).map(
                lambda n_c: n_c[1] * n_c[0]
            )
        )
    return st.one_of(generic)


@st.composite
def mutated_rows(draw: st.DrawFn, kind: str) -> dict[str, str | None]:
    row = valid_row(kind)
    columns = draw(st.lists(st.sampled_from(COLUMNS[kind]), max_size=3, unique=True))
    for column in columns:
        row[column] = draw(column_values(column))
    # Parsing strips every cell and turns an empty one into None; the checks only ever see that form.
    return {column: (value.strip() or None) if value is not None else None for column, value in row.items()}


def assert_agrees(kind: str, values: dict[str, str | None], tables: CodeTables = TABLES) -> None:
    raw = RawRow(7, values)
    fast = check_row_fast(kind, 7, values, tables, TODAY)
    clean, errors = validate_row_with_models(kind, raw, tables)
    if fast is not None:
        assert errors == []
        assert fast == clean
        # Equal is not enough (3 == 3.0, True == 1): every field must have the type the models give it.
        assert clean is not None
        assert [type(value) for value in fast] == [type(value) for value in clean]
    assert validate_row(kind, raw, tables, TODAY) == (clean, errors)


@pytest.mark.parametrize("kind", ["title", "skill", "card", "permit"])
def test_valid_rows_take_the_fast_path(kind: str) -> None:
    for _ in range(20):
        values = valid_row(kind)
        fast = check_row_fast(kind, 1, values, TABLES, TODAY)
        assert fast is not None, values
        assert fast == validate_row_with_models(kind, RawRow(1, values), TABLES)[0]


@hypothesis_settings(max_examples=600)
@given(values=mutated_rows("title"))
@example(values={**valid_row("title"), "specialty": "\u00a0"})
def test_title_rows_agree_with_the_models(values: dict[str, str | None]) -> None:
    assert_agrees("title", values)


@hypothesis_settings(max_examples=600)
@given(values=mutated_rows("skill"))
def test_skill_rows_agree_with_the_models(values: dict[str, str | None]) -> None:
    assert_agrees("skill", values)


@hypothesis_settings(max_examples=600)
@given(values=mutated_rows("card"))
def test_card_rows_agree_with_the_models(values: dict[str, str | None]) -> None:
    assert_agrees("card", values)


@hypothesis_settings(max_examples=600)
@given(values=mutated_rows("permit"))
@example(values={**valid_row("permit"), "holder_id_type": "resident_id"})
@example(values={**valid_row("permit"), "number": "1234 5678 9012 3456 78"})
def test_permit_rows_agree_with_the_models(values: dict[str, str | None]) -> None:
    assert_agrees("permit", values)


# A node holding one region only: the other region's rows are refused (region.not_held) by the models' path.
HELD_SC = replace(TABLES, held=frozenset({"SC"}))


@hypothesis_settings(max_examples=300)
@given(data=st.data(), kind=st.sampled_from(["title", "skill", "card", "permit"]))
def test_rows_agree_with_the_models_on_a_node_of_one_region(data: st.DataObject, kind: str) -> None:
    assert_agrees(kind, data.draw(mutated_rows(kind)), HELD_SC)


# 重庆英才服务卡 closed to new cards from 2022-06-01 (the valid rows' issue date) and 新重庆人才卡 issuing
# from then: the generated issue dates fall on both sides of the change.
CHANGE = date(2022, 6, 1)
CLOSED_CQ = replace(
    TABLES,
    card_issuing_windows={"cq-yingcai": (None, CHANGE), "cq-xinchongqing": (CHANGE, None)},
)


@hypothesis_settings(max_examples=300)
@given(values=mutated_rows("card"))
def test_card_rows_agree_with_the_models_when_a_system_stopped_issuing(values: dict[str, str | None]) -> None:
    assert_agrees("card", values, CLOSED_CQ)


@pytest.mark.parametrize(
    ("system", "card_class", "issued_on", "refused"),
    [
        ("cq-yingcai", "A1", CHANGE - timedelta(days=1), False),  # its last issuing day
        ("cq-yingcai", "A1", CHANGE, True),  # the until date is the first day it issues no more
        ("cq-xinchongqing", "A", CHANGE - timedelta(days=1), True),  # before the new system began
        ("cq-xinchongqing", "A", CHANGE, False),
    ],
)
def test_a_card_outside_its_systems_issuing_window_is_refused_on_its_row(
    system: str, card_class: str, issued_on: date, refused: bool
) -> None:
    values = {
        **valid_row("card"),
        "card_system": system,
        "card_class": card_class,
        "entitlements": "hukou",
        "issued_on": issued_on.isoformat(),
    }
    clean, errors = validate_row("card", RawRow(12, values), CLOSED_CQ, TODAY)
    if refused:
        assert clean is None
        assert [(e.row, e.column, e.code) for e in errors] == [(12, "card_system", "card_system.not_issuing")]
        assert "[…, 2022-06-01)" in errors[0].message or "[2022-06-01, …)" in errors[0].message
    else:
        assert errors == []
        assert clean is not None
        assert clean.card_system == system


def number_of_level(level: int) -> str:
    """A valid number of the level: the example of the first format naming it, with its level character."""
    for definition in load_data("skill_number_formats.json"):
        characters = {code: ch for ch, code in definition["level_characters"].items()}
        if level in characters:
            example: str = definition["example"]["number"]
            at: int = definition["level_position"] - 1
            return example[:at] + str(characters[level]) + example[at + 1 :]
    raise AssertionError(f"no format names level {level}")


@pytest.mark.parametrize("level", sorted(TABLES.skill_levels))
def test_rows_of_every_level_in_the_table_take_the_fast_path(level: int) -> None:
    values = {**valid_row("skill"), "level": str(level), "number": number_of_level(level)}
    fast = check_row_fast("skill", 1, values, TABLES, TODAY)
    assert fast is not None
    assert fast.skill_level == level
    assert fast == validate_row_with_models("skill", RawRow(1, values), TABLES)[0]
    assert_agrees("skill", values)


def test_a_level_missing_from_the_table_is_refused_by_the_code_table_check() -> None:
    # The models accept any level code; whether it exists is the table's say (an admin may add or drop one).
    without_7 = replace(TABLES, skill_levels=TABLES.skill_levels - {7})
    values = {**valid_row("skill"), "level": "7", "number": number_of_level(7)}
    assert check_row_fast("skill", 1, values, without_7, TODAY) is None
    clean, errors = validate_row("skill", RawRow(4, values), without_7, TODAY)
    assert clean is None
    assert [(e.row, e.column, e.code) for e in errors] == [(4, "level", "skill_level.unknown")]
    assert_agrees("skill", values, without_7)


def test_the_probed_bounds_are_every_bound_the_models_declare() -> None:
    # The fast checks read their bounds from the models (app.imports.model_rules); this list is the test's
    # own, so a bound added to or changed in a model must show up here, and then gets probed above.
    assert model_rules.bounded_text_columns() == MAX_LENGTHS


@pytest.mark.parametrize("column", sorted(MAX_LENGTHS))
def test_the_bounds_read_off_the_models_are_the_bounds_they_enforce(column: str) -> None:
    kind = next(kind for kind in ("title", "skill", "card", "permit") if column in COLUMNS[kind])
    bound = model_rules.max_length(column)
    for length, accepted in ((bound, True), (bound + 1, False)):
        values = {**valid_row(kind), column: "字" * length}
        errors = validate_row_with_models(kind, RawRow(1, values), TABLES)[1]
        too_long = [e for e in errors if e.column == column and e.code == "string_too_long"]
        assert (not too_long) is accepted, (column, length, errors)


def test_the_level_bounds_read_off_the_model_are_the_bounds_it_enforces() -> None:
    low, high = model_rules.integer_bounds(SkillIn, "level")
    for level, code in ((low - 1, "greater_than_equal"), (high + 1, "less_than_equal")):
        errors = validate_row_with_models(
            "skill", RawRow(1, {**valid_row("skill"), "level": str(level)}), TABLES
        )[1]
        assert (errors[0].column, errors[0].code) == ("level", code), errors
    for level in (low, high):
        errors = validate_row_with_models(
            "skill", RawRow(1, {**valid_row("skill"), "level": str(level)}), TABLES
        )[1]
        assert all(e.column != "level" for e in errors), errors


def test_a_parse_problem_always_goes_to_the_models() -> None:
    values = valid_row("title")
    raw = RawRow(3, values, (RowProblem("specialty", "cell.not_text", "The cell holds a list, not text."),))
    clean, errors = validate_row("title", raw, TABLES, TODAY)
    assert clean is None
    assert [(e.row, e.column, e.code) for e in errors] == [(3, "specialty", "cell.not_text")]


def test_dates_after_the_import_started_are_left_to_the_models() -> None:
    values = {**valid_row("title"), "issued_on": TODAY.isoformat(), "obtained_on": TODAY.isoformat()}
    assert check_row_fast("title", 1, values, TABLES, TODAY - timedelta(days=1)) is None
    assert check_row_fast("title", 1, values, TABLES, TODAY) is not None
    assert isinstance(validate_row("title", RawRow(1, values), TABLES, TODAY)[0].issued_on, date)  # type: ignore[union-attr]


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    """Valid resident ID numbers, some with one character changed, swapped in or cut off."""
    number = resident_id(serial=draw(st.integers(0, 100_000)))
    position = draw(st.integers(0, 17))
    replacement = draw(st.sampled_from("0123456789Xx５ ٣-"))
    edit = draw(st.sampled_from(["keep", "replace", "cut", "future"]))
    if edit == "replace":
        number = number[:position] + replacement + number[position + 1 :]
    elif edit == "cut":
        number = number[:position]
    elif edit == "future":
        number = (
            number[:6] + (TODAY + timedelta(days=draw(st.integers(-2, 2)))).strftime("%Y%m%d") + number[14:]
        )
    return number


@hypothesis_settings(max_examples=1500)
@given(number=id_numbers())
def test_the_canonical_resident_id_path_agrees_with_parse_resident_id(number: str) -> None:
    fast = parse_canonical_resident_id(number, TODAY)
    try:
        parsed = parse_resident_id(number)
    except DomainError:
        assert fast is None
        return
    if fast is not None:
        assert fast == (parsed.number, parsed.birth_date, parsed.sex)
    elif len(number) == 18 and number == parsed.number and parsed.birth_date <= TODAY:
        pytest.fail("a canonical valid number missed the fast path")
