"""Index-only previews (issue 16's bench): a rule preview and a bulk status-change preview aggregate over up to
a few hundred thousand credentials. Read from the table, each row costs a heap page (over 150 ms p95 on
1,000,000 credentials); PostgreSQL's covering indexes (INCLUDE) hold the columns those aggregates read, so
they scan the index alone. SQLite has no INCLUDE: there the listing and issuer indexes stay as they were,
and issue dates get a plain index.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a recognition rule reads of a credential, and its validity (app.models.PREVIEW_FACTS at 0011).
PREVIEW_FACTS = [
    "valid_from",
    "valid_until",
    "issuer_id",
    "title_code",
    "skill_level",
    "card_system",
    "card_class",
]
STATUS_FACTS = ["status", "valid_until"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_credentials_listing", table_name="credentials")
        op.create_index(
            "ix_credentials_listing",
            "credentials",
            ["kind", "region_code", "status", "id"],
            postgresql_include=PREVIEW_FACTS,
        )
        op.drop_index("ix_credentials_issuer_id", table_name="credentials")
        op.create_index(
            "ix_credentials_issuer_id", "credentials", ["issuer_id"], postgresql_include=STATUS_FACTS
        )
    op.create_index("ix_credentials_issued_on", "credentials", ["issued_on"], postgresql_include=STATUS_FACTS)


def downgrade() -> None:
    op.drop_index("ix_credentials_issued_on", table_name="credentials")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_credentials_issuer_id", table_name="credentials")
        op.create_index("ix_credentials_issuer_id", "credentials", ["issuer_id"])
        op.drop_index("ix_credentials_listing", table_name="credentials")
        op.create_index("ix_credentials_listing", "credentials", ["kind", "region_code", "status", "id"])
