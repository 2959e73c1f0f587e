"""Code tables are never deleted from (nor their keys changed), enforced by triggers, in place of the per-row
foreign keys from credentials to them; credentials lose an index the unique key can serve, and the
supersedes_id index keeps only the rows that have one.

Why (issue 19, docs/architecture.md "Integrity of codes on import"): each foreign key is a trigger run per
inserted row (~3 µs a row each on PostgreSQL), and six of credentials' nine pointed at code tables of a few
dozen rows. A code that can never disappear once committed needs no per-row lock: whatever the import's
transaction (or the registry's) saw in the table stays true until it commits, and the PostgreSQL import also
checks each chunk's codes set-based in its own transaction. The keys to holders, issuers and earlier
versions stay foreign keys.

Indexes: the unique key becomes (number, kind, region_code), so it also serves the console's search by number
alone and ix_credentials_number goes; an ON CONFLICT or a look-up naming all three columns is unaffected.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each code table a credential refers to, with its key.
CODE_TABLES: dict[str, tuple[str, ...]] = {
    "regions": ("code",),
    "title_codes": ("code",),
    "skill_levels": ("level",),
    "card_systems": ("code",),
    "card_classes": ("system_code", "code"),
    "card_services": ("system_code", "code"),
    "permit_classes": ("code",),
}
# (constraint, local columns, referred table, referred columns) of the foreign keys this revision drops.
CODE_KEYS: list[tuple[str, list[str], str, list[str]]] = [
    ("fk_credentials_region_code_regions", ["region_code"], "regions", ["code"]),
    ("fk_credentials_title_code_title_codes", ["title_code"], "title_codes", ["code"]),
    ("fk_credentials_skill_level_skill_levels", ["skill_level"], "skill_levels", ["level"]),
    ("fk_credentials_card_system_card_systems", ["card_system"], "card_systems", ["code"]),
    (
        "fk_credentials_card_class_card_classes",
        ["card_system", "card_class"],
        "card_classes",
        ["system_code", "code"],
    ),
    ("fk_credentials_permit_class_permit_classes", ["permit_class"], "permit_classes", ["code"]),
]
MESSAGE = "a code is never deleted nor its key changed: it stays, so every credential naming it stays valid"
PG_FUNCTION = f"""
CREATE FUNCTION refuse_code_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = '{MESSAGE}',
        TABLE = TG_TABLE_NAME;
END
$$
"""


def key_changed(key: tuple[str, ...]) -> str:
    return " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in key)


def add_code_guards(bind: sa.engine.Connection) -> None:
    if bind.dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table, key in CODE_TABLES.items():
            op.execute(
                f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_code_removal()"
            )
            # TRUNCATE skips row triggers: refused on its own.
            op.execute(
                f"CREATE TRIGGER {table}_never_truncated BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION refuse_code_removal()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_key_fixed BEFORE UPDATE ON {table} FOR EACH ROW "
                f"WHEN ({key_changed(key)}) EXECUTE FUNCTION refuse_code_removal()"
            )
        return
    for table, key in CODE_TABLES.items():
        op.execute(
            f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_key_fixed BEFORE UPDATE OF {', '.join(key)} ON {table} "
            f"WHEN {key_changed(key).replace('IS DISTINCT FROM', 'IS NOT')} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def drop_code_guards(bind: sa.engine.Connection) -> None:
    for table in CODE_TABLES:
        if bind.dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {table}_never_truncated ON {table}")
            op.execute(f"DROP TRIGGER {table}_never_deleted ON {table}")
            op.execute(f"DROP TRIGGER {table}_key_fixed ON {table}")
        else:
            op.execute(f"DROP TRIGGER {table}_never_deleted")
            op.execute(f"DROP TRIGGER {table}_key_fixed")
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION refuse_code_removal()")


def upgrade() -> None:
    add_code_guards(op.get_bind())
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        for name, _, _, _ in CODE_KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")
        batch_op.drop_constraint("uq_credentials_kind_region_code_number", type_="unique")
        batch_op.create_unique_constraint(
            "uq_credentials_number_kind_region_code", ["number", "kind", "region_code"]
        )
        batch_op.drop_index("ix_credentials_number")
        batch_op.drop_index("ix_credentials_supersedes_id")
        batch_op.create_index(
            "ix_credentials_supersedes_id",
            ["supersedes_id"],
            unique=False,
            postgresql_where=sa.text("supersedes_id IS NOT NULL"),
            sqlite_where=sa.text("supersedes_id IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_credentials_supersedes_id")
        batch_op.create_index("ix_credentials_supersedes_id", ["supersedes_id"], unique=False)
        batch_op.create_index("ix_credentials_number", ["number"], unique=False)
        batch_op.drop_constraint("uq_credentials_number_kind_region_code", type_="unique")
        batch_op.create_unique_constraint(
            "uq_credentials_kind_region_code_number", ["kind", "region_code", "number"]
        )
        for name, columns, table, referred in CODE_KEYS:
            batch_op.create_foreign_key(name, table, columns, referred)
    drop_code_guards(op.get_bind())
