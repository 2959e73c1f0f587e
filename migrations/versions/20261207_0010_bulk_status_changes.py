"""Bulk status changes run as jobs, and the import job that last wrote each credential (so an admin can act
on one import batch).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:15:58.707991
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "status_change_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("target_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "criteria",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("actor_method", sa.String(length=16), nullable=True),
        sa.Column("actor_roles", sa.String(length=64), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("done", sa.BigInteger(), nullable=False),
        sa.Column("changed", sa.BigInteger(), nullable=False),
        sa.Column("refused", sa.BigInteger(), nullable=False),
        sa.Column(
            "refusals",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_change_jobs")),
    )
    with op.batch_alter_table("status_change_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_change_jobs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_status_change_jobs_status"), ["status"], unique=False)

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_job_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_credentials_import_job_id"), ["import_job_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credentials_import_job_id"))
        batch_op.drop_column("import_job_id")

    with op.batch_alter_table("status_change_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_change_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_status_change_jobs_created_at"))

    op.drop_table("status_change_jobs")
