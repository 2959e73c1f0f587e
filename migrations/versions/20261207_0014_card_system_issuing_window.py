"""A card system's issuing window: the days it issues new cards, [issuing_from, issuing_until), either side
open when null. Existing systems get an open window (no date is known for 重庆英才服务卡's last issue); cards
already issued keep verifying until their own valid_until whatever the window.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("card_systems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issuing_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("issuing_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("card_systems", schema=None) as batch_op:
        batch_op.drop_column("issuing_until")
        batch_op.drop_column("issuing_from")
