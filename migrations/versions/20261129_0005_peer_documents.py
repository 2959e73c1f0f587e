"""Peer documents: the last copies of peers' JWKS and signed status lists.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 19:20:58.611544
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "peer_documents",
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_peer_documents")),
    )


def downgrade() -> None:
    op.drop_table("peer_documents")
