"""The shortage catalogue (急需紧缺人才目录): its editions (seeded) and entries (imported); import job kinds
widen to hold `catalogue`.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 18:51:38.770027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalogue_editions",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("superseded_by", sa.String(length=16), nullable=True),
        sa.Column("clusters_published", sa.Integer(), nullable=True),
        sa.Column("posts_published", sa.Integer(), nullable=True),
        sa.Column("severe_published", sa.Integer(), nullable=True),
        sa.Column("moderate_published", sa.Integer(), nullable=True),
        sa.Column("mild_published", sa.Integer(), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_catalogue_editions")),
    )
    op.create_table(
        "catalogue_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("edition_code", sa.String(length=16), nullable=False),
        sa.Column("cluster", sa.String(length=100), nullable=False),
        sa.Column("post", sa.String(length=200), nullable=False),
        sa.Column("title_series_code", sa.String(length=4), nullable=True),
        sa.Column("occupation_code", sa.String(length=32), nullable=True),
        sa.Column("urgency", sa.String(length=8), nullable=False),
        sa.Column("region_code", sa.String(length=8), nullable=True),
        sa.Column("import_job_id", sa.String(length=32), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "urgency IN ('severe', 'moderate', 'mild')", name=op.f("ck_catalogue_entries_urgency")
        ),
        sa.CheckConstraint(
            "title_series_code IS NOT NULL OR occupation_code IS NOT NULL",
            name=op.f("ck_catalogue_entries_asks_for"),
        ),
        sa.ForeignKeyConstraint(
            ["edition_code"],
            ["catalogue_editions.code"],
            name=op.f("fk_catalogue_entries_edition_code_catalogue_editions"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_catalogue_entries_region_code_regions")
        ),
        sa.ForeignKeyConstraint(
            ["title_series_code"],
            ["title_series.code"],
            name=op.f("fk_catalogue_entries_title_series_code_title_series"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_entries")),
        sa.UniqueConstraint(
            "edition_code", "cluster", "post", "region_code", name="uq_catalogue_entries_key"
        ),
    )
    with op.batch_alter_table("catalogue_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalogue_entries_edition_region", ["edition_code", "region_code", "id"], unique=False
        )

    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.VARCHAR(length=8), type_=sa.String(length=16), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=16), type_=sa.VARCHAR(length=8), existing_nullable=False
        )

    with op.batch_alter_table("catalogue_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_catalogue_entries_edition_region")

    op.drop_table("catalogue_entries")
    op.drop_table("catalogue_editions")
