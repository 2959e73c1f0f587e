"""The console's look-ups: credentials by number, holders by exact name, a credential's verifications in the audit (by object_ref),
import jobs newest first, and an import's errors page by page.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_holders_name"), "holders", ["name"])
    op.create_index("ix_credentials_number", "credentials", ["number"])
    op.create_index("ix_audit_events_object_ref", "audit_events", ["object_ref", "seq"])
    op.create_index("ix_import_jobs_created", "import_jobs", ["created_at", "id"])
    op.create_index("ix_import_row_errors_job_id", "import_row_errors", ["job_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_import_row_errors_job_id", table_name="import_row_errors")
    op.drop_index("ix_import_jobs_created", table_name="import_jobs")
    op.drop_index("ix_audit_events_object_ref", table_name="audit_events")
    op.drop_index("ix_credentials_number", table_name="credentials")
    op.drop_index(op.f("ix_holders_name"), table_name="holders")
