"""Status lists: a region's list capacity and revision, and each card's never-reused index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 18:00:57.077172
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_lists",
        sa.Column("region_code", sa.String(length=8), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_status_lists_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("region_code", name=op.f("pk_status_lists")),
    )
    op.create_table(
        "status_list_entries",
        sa.Column("credential_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("region_code", sa.String(length=8), nullable=False),
        sa.Column("list_index", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_status_list_entries_credential_id_credentials"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"],
            ["status_lists.region_code"],
            name=op.f("fk_status_list_entries_region_code_status_lists"),
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_status_list_entries")),
        sa.UniqueConstraint(
            "region_code", "list_index", name=op.f("uq_status_list_entries_region_code_list_index")
        ),
    )


def downgrade() -> None:
    op.drop_table("status_list_entries")
    op.drop_table("status_lists")
