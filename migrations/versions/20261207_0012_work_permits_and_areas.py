"""Foreign-talent work permits as a fourth kind of credential (their classes as a code table, the employer on
the credential), and areas: a recognition rule may be scoped to one (the 川渝高竹新区 pilot).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 18:52:07.300866
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = "kind IN ('title', 'skill', 'card')"
KINDS_AFTER = "kind IN ('title', 'skill', 'card', 'permit')"
PERMIT_FIELDS = (
    "kind != 'permit' OR (permit_class IS NOT NULL AND employer_name IS NOT NULL "
    "AND employer_usci IS NOT NULL)"
)


def upgrade() -> None:
    op.create_table(
        "areas",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "parts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_areas")),
    )
    op.create_table(
        "permit_classes",
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("min_points", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_permit_classes")),
    )
    # SQLite alters a table by copying it (batch mode): the check constraints are dropped and made anew in
    # the same copy.
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("permit_class", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("employer_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("employer_usci", sa.String(length=18), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_permit_class_permit_classes"),
            "permit_classes",
            ["permit_class"],
            ["code"],
        )
        batch_op.drop_constraint(batch_op.f("ck_credentials_kind"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_credentials_kind"), sa.text(KINDS_AFTER))
        batch_op.create_check_constraint(batch_op.f("ck_credentials_permit_fields"), sa.text(PERMIT_FIELDS))

    with op.batch_alter_table("recognition_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_area", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_recognition_rules_target_area_areas"), "areas", ["target_area"], ["code"]
        )


def downgrade() -> None:
    with op.batch_alter_table("recognition_rules", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_recognition_rules_target_area_areas"), type_="foreignkey")
        batch_op.drop_column("target_area")

    op.execute("DELETE FROM recognition_rules WHERE kind = 'permit'")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_credentials_permit_fields"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_credentials_kind"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_credentials_kind"), sa.text(KINDS_BEFORE))
        batch_op.drop_constraint(batch_op.f("fk_credentials_permit_class_permit_classes"), type_="foreignkey")
        batch_op.drop_column("employer_usci")
        batch_op.drop_column("employer_name")
        batch_op.drop_column("permit_class")

    op.drop_table("permit_classes")
    op.drop_table("areas")
