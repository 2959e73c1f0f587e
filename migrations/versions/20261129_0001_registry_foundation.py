"""Registry foundation: regions, organisations, holders, credentials, status history, code tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 15:18:38.190586
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id_type", sa.String(length=32), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("id_cipher", sa.Text(), nullable=False),
        sa.Column("id_masked", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holders")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_holders_id_hash")),
    )
    op.create_table(
        "regions",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
        sa.UniqueConstraint("province_code", name=op.f("uq_regions_province_code")),
    )
    op.create_table(
        "skill_levels",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("level", name=op.f("pk_skill_levels")),
    )
    op.create_table(
        "title_series",
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_title_series")),
    )
    op.create_table(
        "card_systems",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("validity_years", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_card_systems_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_card_systems")),
    )
    op.create_table(
        "organisations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("usci", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=8), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("level IN ('province', 'city', 'district')", name=op.f("ck_organisations_level")),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_organisations_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("usci", name=op.f("uq_organisations_usci")),
    )
    op.create_table(
        "recognition_rules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("source_region", sa.String(length=8), nullable=False),
        sa.Column("target_region", sa.String(length=8), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column(
            "criteria",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "equivalent",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_until", sa.Date(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_region"], ["regions.code"], name=op.f("fk_recognition_rules_source_region_regions")
        ),
        sa.ForeignKeyConstraint(
            ["target_region"], ["regions.code"], name=op.f("fk_recognition_rules_target_region_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recognition_rules")),
        sa.UniqueConstraint("code", name=op.f("uq_recognition_rules_code")),
    )
    op.create_table(
        "title_codes",
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("series_code", sa.String(length=4), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_code"], ["title_series.code"], name=op.f("fk_title_codes_series_code_title_series")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_title_codes")),
    )
    op.create_table(
        "card_classes",
        sa.Column("system_code", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_code"], ["card_systems.code"], name=op.f("fk_card_classes_system_code_card_systems")
        ),
        sa.PrimaryKeyConstraint("system_code", "code", name=op.f("pk_card_classes")),
    )
    op.create_table(
        "card_services",
        sa.Column("system_code", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["system_code"], ["card_systems.code"], name=op.f("fk_card_services_system_code_card_systems")
        ),
        sa.PrimaryKeyConstraint("system_code", "code", name=op.f("pk_card_services")),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("region_code", sa.String(length=8), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("holder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("issuer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("supersedes_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title_code", sa.String(length=4), nullable=True),
        sa.Column("specialty", sa.String(length=100), nullable=True),
        sa.Column("obtained_on", sa.Date(), nullable=True),
        sa.Column("approval_no", sa.String(length=100), nullable=True),
        sa.Column("review_body", sa.String(length=200), nullable=True),
        sa.Column("occupation_code", sa.String(length=16), nullable=True),
        sa.Column("occupation_name", sa.String(length=100), nullable=True),
        sa.Column("skill_level", sa.Integer(), nullable=True),
        sa.Column("work_type", sa.String(length=100), nullable=True),
        sa.Column("number_format", sa.String(length=32), nullable=True),
        sa.Column("card_system", sa.String(length=32), nullable=True),
        sa.Column("card_class", sa.String(length=16), nullable=True),
        sa.Column(
            "entitlements",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "kind != 'card' OR (card_system IS NOT NULL AND card_class IS NOT NULL)",
            name=op.f("ck_credentials_card_fields"),
        ),
        sa.CheckConstraint(
            "kind != 'skill' OR (occupation_code IS NOT NULL AND skill_level IS NOT NULL)",
            name=op.f("ck_credentials_skill_fields"),
        ),
        sa.CheckConstraint(
            "kind != 'title' OR title_code IS NOT NULL", name=op.f("ck_credentials_title_fields")
        ),
        sa.CheckConstraint("kind IN ('title', 'skill', 'card')", name=op.f("ck_credentials_kind")),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'revoked', 'cancelled', 'expired', 'transferred', 'superseded')",
            name=op.f("ck_credentials_status"),
        ),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_from IS NULL OR valid_until >= valid_from",
            name=op.f("ck_credentials_window"),
        ),
        sa.ForeignKeyConstraint(
            ["card_system", "card_class"],
            ["card_classes.system_code", "card_classes.code"],
            name="fk_credentials_card_class_card_classes",
        ),
        sa.ForeignKeyConstraint(
            ["card_system"], ["card_systems.code"], name=op.f("fk_credentials_card_system_card_systems")
        ),
        sa.ForeignKeyConstraint(["holder_id"], ["holders.id"], name=op.f("fk_credentials_holder_id_holders")),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["organisations.id"], name=op.f("fk_credentials_issuer_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_credentials_region_code_regions")
        ),
        sa.ForeignKeyConstraint(
            ["skill_level"], ["skill_levels.level"], name=op.f("fk_credentials_skill_level_skill_levels")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["credentials.id"], name=op.f("fk_credentials_supersedes_id_credentials")
        ),
        sa.ForeignKeyConstraint(
            ["title_code"], ["title_codes.code"], name=op.f("fk_credentials_title_code_title_codes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint(
            "kind", "region_code", "number", name=op.f("uq_credentials_kind_region_code_number")
        ),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credentials_holder_id"), ["holder_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credentials_issuer_id"), ["issuer_id"], unique=False)
        batch_op.create_index("ix_credentials_listing", ["kind", "region_code", "status", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credentials_supersedes_id"), ["supersedes_id"], unique=False)

    op.create_table(
        "status_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("credential_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"], ["credentials.id"], name=op.f("fk_status_changes_credential_id_credentials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_changes")),
    )
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_changes_credential_id"), ["credential_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_changes_credential_id"))

    op.drop_table("status_changes")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credentials_supersedes_id"))
        batch_op.drop_index("ix_credentials_listing")
        batch_op.drop_index(batch_op.f("ix_credentials_issuer_id"))
        batch_op.drop_index(batch_op.f("ix_credentials_holder_id"))

    op.drop_table("credentials")
    op.drop_table("card_services")
    op.drop_table("card_classes")
    op.drop_table("title_codes")
    op.drop_table("recognition_rules")
    op.drop_table("organisations")
    op.drop_table("card_systems")
    op.drop_table("title_series")
    op.drop_table("skill_levels")
    op.drop_table("regions")
    op.drop_table("holders")
