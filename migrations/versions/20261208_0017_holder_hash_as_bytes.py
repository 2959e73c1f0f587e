"""Holders' keyed hash as its 32 bytes on PostgreSQL (bytea), not 64 hex characters.

Why (issue 19, bench/RESULTS.md "The floor of the schema"): the unique index on `id_hash` is keyed at random,
so an import's inserts and every person look-up land on random pages of it. As text its entries were 72 bytes
compared through the database's collation; as bytes they are 40, compared with memcmp: the index is 40 %
smaller (fewer pages to write in full after each checkpoint), and a batch look-up takes half the time. The
application still passes and reads the hex text (app.models.columns.HexBytea converts in the SQL). SQLite
keeps the text.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 04:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The unique index is rebuilt with the column: one sort of the holders, under the table's lock.
    op.execute("ALTER TABLE holders ALTER COLUMN id_hash TYPE bytea USING decode(id_hash, 'hex')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE holders ALTER COLUMN id_hash TYPE varchar(64) USING encode(id_hash, 'hex')")
