"""Column types and helpers every table module shares: aware UTC timestamps, 64-bit keys, JSON(B), keyed
hashes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Integer,
    String,
    TypeDecorator,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import UserDefinedType

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit keys for registries of millions.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class HexBytea(UserDefinedType[str]):
    """A 256-bit keyed hash kept as its 32 bytes in PostgreSQL, and written and read as its 64 hex digits.

    The holders' `id_hash` index is keyed at random (that is what a keyed hash is): every import inserts into
    it, and every look-up of a person probes it. As bytes, its entries are 40 bytes, not 72, and compare with
    memcmp, not the database's collation: the index is 40 % smaller, a look-up of 2,000 holders takes half the
    time, and an insert after a checkpoint, which writes each touched page's full image, costs 40 % less
    (bench/RESULTS.md, "The floor of the schema"). The conversion is in the SQL (decode/encode), so a
    statement binding or selecting the column, those the raw-driver paths compile included, still passes and
    gets the hex text. Binds of another type (a bytea[] array) and raw SQL must give bytes themselves.
    """

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "BYTEA"

    def bind_expression(self, bindvalue: ColumnElement[str]) -> ColumnElement[str]:
        return func.decode(bindvalue, literal_column("'hex'"))

    def column_expression(self, colexpr: ColumnElement[str]) -> ColumnElement[str]:
        return func.encode(colexpr, literal_column("'hex'"))


# SQLite keeps the hex text: its comparisons are bytewise already, and its import looks holders up by text.
KeyedHash = String(64).with_variant(HexBytea(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both databases (SQLite drops the offset on the way in)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
