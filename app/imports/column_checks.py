"""The import's per-column rules evaluated on whole columns: one chunk of rows (a polars frame) at a time.

The registry models (app/registry/schemas.py) stay the one statement of the rules, and the row path
(app.imports.validation) the one producer of errors. This module only accepts: a row comes out either with
exactly the values the models would give it (a CleanRow's columns) or among the rows it leaves to the row
path, which runs the lean checks and the models and names every error. A rejected row therefore gets the same
row-precise errors as before, and tests/imports/test_column_checks.py checks on generated rows that whatever
is accepted here, the models accept with the same values.

How the columns are checked:
- values that repeat through a registry (region, issuer, codes, dates, levels, specialty, card columns):
  the row path's own check (app.imports.fast_checks) once per distinct value, joined back onto the rows;
- values that do not (credential number, holder name and document number): polars expressions for the plain
  spelling (a resident ID in canonical form: shape, province, birth date, GB 11643 check character, computed
  on the column; a name or number of ASCII letters, digits and CJK ideographs, which no normalisation
  changes), and the row path's check once per distinct value for any other spelling;
- the rules between fields (dates not in the future, the validity window, obtained before issued) as
  expressions.
Bounds and patterns come from the models through model_rules, as for the row path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any, Final, TypeVar

import polars as pl

from app.domain.identity import (
    EARLIEST_BIRTH_DATE,
    MAINLAND_PROVINCE_CODES,
    RESIDENT_ID_CHECK_MAP,
    RESIDENT_ID_WEIGHTS,
    IdType,
)
from app.domain.masking import normalize_person_name
from app.imports import fast_checks as checks
from app.imports import model_rules
from app.imports.clean_rows import CleanRow
from app.imports.code_tables import CodeTables

# A CleanRow as polars columns, in CleanRow's order (a test checks the names against CleanRow's).
CLEAN_SCHEMA: Final = pl.Schema(
    {
        "row": pl.Int64(),
        "kind": pl.String(),
        "region": pl.String(),
        "number": pl.String(),
        "holder_name": pl.String(),
        "id_type": pl.String(),
        "id_number": pl.String(),
        "issuer_name": pl.String(),
        "issuer_usci": pl.String(),
        "issuer_level": pl.String(),
        "issued_on": pl.Date(),
        "valid_from": pl.Date(),
        "valid_until": pl.Date(),
        "title_code": pl.String(),
        "specialty": pl.String(),
        "obtained_on": pl.Date(),
        "approval_no": pl.String(),
        "review_body": pl.String(),
        "occupation_code": pl.String(),
        "occupation_name": pl.String(),
        "skill_level": pl.Int64(),
        "work_type": pl.String(),
        "number_format": pl.String(),
        "card_system": pl.String(),
        "card_class": pl.String(),
        "entitlements": pl.List(pl.String()),
        "permit_class": pl.String(),
        "employer_name": pl.String(),
        "employer_usci": pl.String(),
        "birth_date": pl.Date(),
        "sex": pl.String(),
    }
)
# Spellings that every normalisation of the models leaves as they are (NFKC, strip, printable, a person
# name's spaces and dots): ASCII letters and digits and the CJK unified ideographs assigned up to Unicode 11.
# tests/imports/test_column_checks.py checks every character of the class against the normalisers.
PLAIN_TEXT: Final = "^[0-9A-Za-z\u4e00-\u9fef]+$"
CANONICAL_RESIDENT_ID: Final = "^[0-9]{17}[0-9X]$"
_OK: Final = "__ok"
T = TypeVar("T")
_NUMBER_LEN: Final = model_rules.max_length("number")
_HOLDER_NAME_LEN: Final = model_rules.max_length("holder_name")
# The vectorised resident-ID check takes an 18-character value without the models' length bound: it may,
# only while that bound admits 18 characters.
_ID_NUMBER_LEN: Final = model_rules.max_length("holder_id_number")
assert _ID_NUMBER_LEN >= 18, "the columnar resident-ID check relies on 18 characters being in bounds"
_ISSUER_NAME_LEN: Final = model_rules.max_length("issuer_name")
_USCI_LEN: Final = model_rules.max_length("issuer_usci")
_SPECIALTY_LEN: Final = model_rules.max_length("specialty")
_APPROVAL_NO_LEN: Final = model_rules.max_length("approval_no")
_REVIEW_BODY_LEN: Final = model_rules.max_length("review_body")
_OCCUPATION_NAME_LEN: Final = model_rules.max_length("occupation_name")
_WORK_TYPE_LEN: Final = model_rules.max_length("work_type")
_EMPLOYER_NAME_LEN: Final = model_rules.max_length("employer_name")
_EMPLOYER_USCI_LEN: Final = model_rules.max_length("employer_usci")


def check_chunk(
    kind: str, raw: pl.DataFrame, tables: CodeTables, today: date
) -> tuple[pl.DataFrame, list[int]]:
    """(the rows the checks vouch for, as CleanRow columns in CLEAN_SCHEMA; the numbers of the other rows).

    `raw` holds a `row` column and the kind's file columns as the readers give them (stripped, None when
    empty), for rows without parse problems. `today` as for fast_checks.check_row_fast.
    """
    if raw.height == 0:
        return CLEAN_SCHEMA.to_frame(), []
    common = check_common(raw, tables, today)
    kind_columns = KIND_CHECKS[kind](raw, common, tables, today)
    checked = pl.concat([common, kind_columns], how="horizontal")
    for own in ("skill_number", "permit_number"):
        # Skill and permit numbers have rules of their own, applied to the Text64 spelling of the cell.
        if own in checked.columns:
            checked = checked.with_columns(pl.col(own).alias("number"))
    ok = pl.all_horizontal(pl.col(f"^{_OK}.*$").fill_null(False))
    flagged = checked.with_columns(ok.alias(_OK))
    accepted = flagged.filter(pl.col(_OK)).with_columns(pl.lit(kind).alias("kind"))
    unsure = flagged.filter(~pl.col(_OK))["row"].to_list()
    return accepted.select(
        [
            pl.col(name) if name in accepted.columns else pl.lit(None, dtype).alias(name)
            for name, dtype in CLEAN_SCHEMA.items()
        ]
    ).cast(CLEAN_SCHEMA), unsure


def check_common(raw: pl.DataFrame, tables: CodeTables, today: date) -> pl.DataFrame:
    """The fields every kind has, each with an __ok column of its own (null or False: not vouched for)."""
    region = by_distinct(raw, ["region"], lambda v: (checks.region_code(v, tables),), {"region": pl.String})
    dates = [
        by_distinct(raw, ["issued_on"], lambda v: (checks.past_date(v, today),), {"issued_on": pl.Date}),
        by_distinct(raw, ["valid_from"], lambda v: (checks.optional_date(v),), {"valid_from": pl.Date}),
        by_distinct(raw, ["valid_until"], lambda v: (checks.optional_date(v),), {"valid_until": pl.Date}),
    ]
    number = plain_or_distinct(
        raw, "number", "number", lambda v: checks.text(v, _NUMBER_LEN), _NUMBER_LEN, pl.String
    )
    name = plain_or_distinct(
        raw,
        "holder_name",
        "holder_name",
        lambda v: normalize_person_name(checks.text(v, _HOLDER_NAME_LEN)),
        _HOLDER_NAME_LEN,
        pl.String,
    )
    issuer = [
        by_distinct(
            raw,
            ["issuer_name"],
            lambda v: (checks.text(v, _ISSUER_NAME_LEN),),
            {"issuer_name": pl.String},
        ),
        by_distinct(raw, ["issuer_usci"], lambda v: (checks.usci(v, _USCI_LEN),), {"issuer_usci": pl.String}),
        by_distinct(raw, ["issuer_level"], lambda v: (checks.issuer_level(v),), {"issuer_level": pl.String}),
    ]
    frame = pl.concat(
        [raw.select("row"), region, *dates, number, name, holder_documents(raw, today), *issuer],
        how="horizontal",
    )
    # CredentialIn's window: valid_until not before valid_from, or before issued_on without one.
    window = pl.col("valid_until").is_null() | (
        pl.col("valid_until") >= pl.coalesce("valid_from", "issued_on")
    )
    return frame.with_columns(window.alias(f"{_OK}window"))


def check_title(raw: pl.DataFrame, common: pl.DataFrame, tables: CodeTables, today: date) -> pl.DataFrame:
    obtained = by_distinct(
        raw, ["obtained_on"], lambda v: (checks.past_date(v, today),), {"obtained_on": pl.Date}
    )
    order = (obtained["obtained_on"] <= common["issued_on"]).alias(f"{_OK}obtained")
    return pl.concat(
        [
            obtained.with_columns(order),
            by_distinct(
                raw, ["title_code"], lambda v: (checks.title_code(v, tables),), {"title_code": pl.String}
            ),
            optional_text(raw, "specialty", _SPECIALTY_LEN),
            optional_text(raw, "approval_no", _APPROVAL_NO_LEN),
            optional_text(raw, "review_body", _REVIEW_BODY_LEN),
        ],
        how="horizontal",
    )


def check_skill(raw: pl.DataFrame, common: pl.DataFrame, tables: CodeTables, today: date) -> pl.DataFrame:
    level = by_distinct(raw, ["level"], lambda v: (checks.skill_level(v, tables),), {"skill_level": pl.Int64})
    pairs = pl.DataFrame({"number": common["number"], "level": level["skill_level"]})
    number = by_distinct(
        pairs,
        ["number", "level"],
        lambda n, lv: checks.skill_number(present(n), present(lv)),
        {"skill_number": pl.String, "number_format": pl.String},
    )
    return pl.concat(
        [
            level,
            number,
            by_distinct(
                raw,
                ["occupation_code"],
                lambda v: (checks.occupation_code(v),),
                {"occupation_code": pl.String},
            ),
            by_distinct(
                raw,
                ["occupation_name"],
                lambda v: (checks.text(v, _OCCUPATION_NAME_LEN),),
                {"occupation_name": pl.String},
            ),
            optional_text(raw, "work_type", _WORK_TYPE_LEN),
        ],
        how="horizontal",
    )


def check_card(raw: pl.DataFrame, common: pl.DataFrame, tables: CodeTables, today: date) -> pl.DataFrame:
    cells = pl.DataFrame(
        {
            "card_system": raw["card_system"],
            "card_class": raw["card_class"],
            "entitlements": raw["entitlements"],
            "region": common["region"],
            "issued_on": common["issued_on"],
        }
    )

    def card(
        system: str | None, card_class: str | None, rights: str | None, region: str | None, day: date | None
    ) -> tuple[str, str, tuple[str, ...]]:
        return checks.card_fields(system, card_class, rights, present(region), present(day), tables)

    return by_distinct(
        cells,
        list(cells.columns),
        card,
        {"card_system": pl.String, "card_class": pl.String, "entitlements": pl.List(pl.String)},
    )


def check_permit(raw: pl.DataFrame, common: pl.DataFrame, tables: CodeTables, today: date) -> pl.DataFrame:
    pairs = pl.DataFrame({"raw": raw["number"], "number": common["number"]})
    number = by_distinct(
        pairs,
        ["raw", "number"],
        lambda cell, text: (checks.permit_number(cell, checks.required(text)),),
        {"permit_number": pl.String},
    )

    def holder(id_type: str | None) -> tuple[bool]:
        checks.permit_holder(checks.required(id_type))
        return (True,)

    return pl.concat(
        [
            number,
            by_distinct(common.select("id_type"), ["id_type"], holder, {"permit_holder": pl.Boolean}),
            by_distinct(
                raw,
                ["permit_class"],
                lambda v: (checks.permit_class(v, tables),),
                {"permit_class": pl.String},
            ),
            by_distinct(
                raw,
                ["employer_name"],
                lambda v: (checks.text(v, _EMPLOYER_NAME_LEN),),
                {"employer_name": pl.String},
            ),
            by_distinct(
                raw,
                ["employer_usci"],
                lambda v: (checks.usci(v, _EMPLOYER_USCI_LEN),),
                {"employer_usci": pl.String},
            ),
        ],
        how="horizontal",
    )


KindCheck = Callable[[pl.DataFrame, pl.DataFrame, CodeTables, date], pl.DataFrame]
KIND_CHECKS: Final[dict[str, KindCheck]] = {
    "title": check_title,
    "skill": check_skill,
    "card": check_card,
    "permit": check_permit,
}


def by_distinct(
    frame: pl.DataFrame,
    columns: Sequence[str],
    check: Callable[..., tuple[Any, ...]],
    schema: dict[str, pl.DataType | type[pl.DataType]],
) -> pl.DataFrame:
    """`check` once per distinct combination of the columns' values, joined back onto the rows: the columns
    of `schema` (what `check` returns) and an __ok column, False where `check` raised (it cannot vouch)."""
    ok = f"{_OK}{next(iter(schema))}"
    keys = frame.select(columns).unique()
    results: list[tuple[Any, ...]] = []
    vouched: list[bool] = []
    empty = (None,) * len(schema)
    for values in keys.iter_rows():
        try:
            results.append(check(*values))
            vouched.append(True)
        except checks.UNSURE:
            results.append(empty)
            vouched.append(False)
    table = pl.DataFrame(
        [keys[name] for name in columns]
        + [
            pl.Series(f"__value{index}", values, dtype=dtype)
            for index, (values, dtype) in enumerate(
                zip(transpose(results, len(schema)), schema.values(), strict=True)
            )
        ]
        + [pl.Series(ok, vouched, dtype=pl.Boolean)]
    )
    joined = frame.select(columns).join(
        table, on=list(columns), how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.select(
        [pl.col(f"__value{index}").alias(name) for index, name in enumerate(schema)] + [pl.col(ok)]
    )


def present(value: T | None) -> T:
    """A value a check needs, from a column an earlier check left null where it could not vouch."""
    if value is None:
        raise ValueError("not vouched for")
    return value


def transpose(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(list(value) if isinstance(value, tuple) else value)
    return columns


def plain_or_distinct(
    raw: pl.DataFrame,
    column: str,
    name: str,
    check: Callable[[str | None], Any],
    max_length: int,
    dtype: type[pl.DataType],
) -> pl.DataFrame:
    """A high-cardinality text column: plain spellings within the bound are their own normal form (an
    expression over the column); any other value goes through `check` once per distinct value."""
    cells = raw[column]
    plain = (cells.str.contains(PLAIN_TEXT) & (cells.str.len_chars() <= max_length)).fill_null(False)
    rest = raw.select(
        pl.when(pl.lit(plain)).then(pl.lit(None, pl.String)).otherwise(pl.col(column)).alias(column)
    )
    checked = by_distinct(rest, [column], lambda v: (check(v),), {name: dtype})
    ok = f"{_OK}{name}"
    return pl.DataFrame(
        [cells.cast(dtype).zip_with(plain, checked[name]).alias(name), (plain | checked[ok]).alias(ok)]
    )


def optional_text(raw: pl.DataFrame, column: str, bound: int) -> pl.DataFrame:
    return by_distinct(raw, [column], lambda v: (checks.optional_text(v, bound),), {column: pl.String})


def holder_documents(raw: pl.DataFrame, today: date) -> pl.DataFrame:
    """id_type, id_number, birth_date, sex: canonical resident IDs checked on the column (GB 11643), every
    other document through fast_checks.holder_document once per distinct value."""
    number = pl.col("holder_id_number")
    digits = [number.str.slice(i, 1).cast(pl.Int64, strict=False) for i in range(17)]
    total = pl.sum_horizontal(
        [digit * weight for digit, weight in zip(digits, RESIDENT_ID_WEIGHTS, strict=True)]
    )
    check = (total % 11).replace_strict(
        list(range(11)), list(RESIDENT_ID_CHECK_MAP), default=None, return_dtype=pl.String
    )
    born = number.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    resident = (
        (pl.col("holder_id_type").is_null() | (pl.col("holder_id_type") == IdType.RESIDENT_ID.value))
        & number.str.contains(CANONICAL_RESIDENT_ID)
        & number.str.slice(0, 2).is_in(sorted(MAINLAND_PROVINCE_CODES))
        & born.is_between(EARLIEST_BIRTH_DATE, today)
        & (check == number.str.slice(17, 1))
    ).fill_null(False)
    vector = raw.select(
        resident.alias("plain"),
        pl.lit(IdType.RESIDENT_ID.value).alias("id_type"),
        number.alias("id_number"),
        born.alias("birth_date"),
        pl.when(number.str.slice(16, 1).cast(pl.Int64, strict=False) % 2 == 1)
        .then(pl.lit("male"))
        .otherwise(pl.lit("female"))
        .alias("sex"),
    )
    plain = vector["plain"]
    rest = raw.select(
        [
            pl.when(pl.lit(plain)).then(pl.lit(None, pl.String)).otherwise(pl.col(column)).alias(column)
            for column in ("holder_id_type", "holder_id_number")
        ]
    )
    others = by_distinct(
        rest,
        ["holder_id_type", "holder_id_number"],
        lambda id_type, id_number: checks.holder_document(id_type, id_number, today),
        {"id_type": pl.String, "id_number": pl.String, "birth_date": pl.Date, "sex": pl.String},
    )
    chosen = [
        vector[name].zip_with(plain, others[name]) for name in ("id_type", "id_number", "birth_date", "sex")
    ]
    return pl.DataFrame([*chosen, (plain | others[f"{_OK}id_type"]).alias(f"{_OK}id_type")])


def clean_rows_of(frame: pl.DataFrame) -> list[CleanRow]:
    """The CleanRows of an accepted frame (the tests compare them with the models', permits need them)."""
    rows = []
    entitlements = CleanRow._fields.index("entitlements")
    for values in frame.select(list(CLEAN_SCHEMA)).iter_rows():
        listed = values[entitlements]
        if listed is not None:
            values = (*values[:entitlements], tuple(listed), *values[entitlements + 1 :])
        rows.append(CleanRow._make(values))
    return rows


def frame_of(rows: Iterable[CleanRow]) -> pl.DataFrame:
    """CleanRows as a frame in CLEAN_SCHEMA (the rows the row path accepted join the columnar ones)."""
    at = CleanRow._fields.index("entitlements")
    listed = [
        (*row[:at], list(row.entitlements), *row[at + 1 :]) if row.entitlements is not None else tuple(row)
        for row in rows
    ]
    return pl.DataFrame(listed, schema=CLEAN_SCHEMA, orient="row")
