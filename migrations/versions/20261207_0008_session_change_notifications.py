"""Session change notifications (PostgreSQL): a session ended, or a person changed, is announced on the
channel huren_sessions when it commits, so that every worker drops what it kept of it
(app/people/session_changes.py). SQLite has no such channel: there, sessions are read at every request.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 17:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANNOUNCE_FUNCTION = """
CREATE FUNCTION huren_announce_session_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'staff_sessions' THEN
        PERFORM pg_notify('huren_sessions', 'session:' || OLD.id_hash);
    ELSE
        PERFORM pg_notify('huren_sessions', 'staff:' || OLD.id);
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(ANNOUNCE_FUNCTION)
    # A session's last_seen_at is touched once a minute: that is not a change anyone needs to hear of.
    op.execute(
        "CREATE TRIGGER staff_sessions_ended AFTER UPDATE OF ended_at OR DELETE ON staff_sessions "
        "FOR EACH ROW EXECUTE FUNCTION huren_announce_session_change()"
    )
    op.execute(
        "CREATE TRIGGER staff_changed AFTER UPDATE OR DELETE ON staff "
        "FOR EACH ROW EXECUTE FUNCTION huren_announce_session_change()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS staff_changed ON staff")
    op.execute("DROP TRIGGER IF EXISTS staff_sessions_ended ON staff_sessions")
    op.execute("DROP FUNCTION IF EXISTS huren_announce_session_change()")
