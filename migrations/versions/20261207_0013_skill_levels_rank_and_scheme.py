"""Skill levels get their order and provenance (issue 17): `rank` (学徒工 1 … 首席技师 8, because the codes do not
order the levels: 1 is 一级/高级技师), `scheme` (the scheme that introduced the level), `confirmed` and `note`.

The rows of the new levels come from the seed (app/reference/data/skill_levels.json). The five rows a database
already holds are given their values here, so that the columns can be NOT NULL: the seed never overwrites an
existing row. A level an admin added before this revision sorts after the known ones.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 18:54:07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The five-level codes (DOMAIN.md) and their rank in the eight-level order, as skill_levels.json gives them.
FIVE_LEVEL_RANKS = {1: 6, 2: 5, 3: 4, 4: 3, 5: 2}


def upgrade() -> None:
    with op.batch_alter_table("skill_levels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rank", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("scheme", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("confirmed", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))

    levels = sa.table(
        "skill_levels",
        sa.column("level", sa.Integer()),
        sa.column("rank", sa.Integer()),
        sa.column("scheme", sa.String()),
        sa.column("confirmed", sa.Boolean()),
    )
    rank = sa.case(FIVE_LEVEL_RANKS, value=levels.c.level, else_=100 + levels.c.level)
    op.execute(
        levels.update().values(
            rank=rank,
            scheme=sa.case((levels.c.level.in_(list(FIVE_LEVEL_RANKS)), "five-level"), else_="unknown"),
            confirmed=levels.c.level.in_(list(FIVE_LEVEL_RANKS)),
        )
    )

    with op.batch_alter_table("skill_levels", schema=None) as batch_op:
        batch_op.alter_column("rank", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("scheme", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("confirmed", existing_type=sa.Boolean(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_skill_levels_rank"), ["rank"])


def downgrade() -> None:
    with op.batch_alter_table("skill_levels", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_skill_levels_rank"), type_="unique")
        batch_op.drop_column("note")
        batch_op.drop_column("confirmed")
        batch_op.drop_column("scheme")
        batch_op.drop_column("rank")
