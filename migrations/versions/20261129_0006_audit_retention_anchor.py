"""Audit retention: where the kept chain starts after a purge (the last removed event's seq and hash).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 19:30:39.540940
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("base_seq", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column(
                "base_hash",
                sa.String(length=64),
                server_default="0000000000000000000000000000000000000000000000000000000000000000",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("base_hash")
        batch_op.drop_column("base_seq")
