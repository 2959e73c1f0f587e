"""Every table of the service, as SQLAlchemy 2 typed models portable between SQLite and PostgreSQL: the
registry, clients, keys, audit, jobs and status lists here, people in `people`, shared column types in
`columns`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.domain.kinds import KINDS as KINDS

# The shortage catalogue's tables (app/models/catalogue.py).
from app.models.catalogue import URGENCIES as URGENCIES
from app.models.catalogue import CatalogueEdition as CatalogueEdition
from app.models.catalogue import CatalogueEntry as CatalogueEntry
from app.models.columns import BigId, Json, KeyedHash, UTCDateTime, in_list, utcnow

# The people's tables, importable from here as every other table is.
from app.models.people import SIGN_IN_METHODS as SIGN_IN_METHODS
from app.models.people import STAFF_ROLE_NAMES as STAFF_ROLE_NAMES
from app.models.people import OidcLogin as OidcLogin
from app.models.people import SignInThrottle as SignInThrottle
from app.models.people import StaffMember as StaffMember
from app.models.people import StaffRole as StaffRole
from app.models.people import StaffSession as StaffSession

STATUSES = ("active", "suspended", "revoked", "cancelled", "expired", "transferred", "superseded")
ISSUER_LEVELS = ("province", "city", "district")


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    province_code: Mapped[str] = mapped_column(String(2), unique=True)


class Organisation(Base):
    """An issuing (or verifying) organisation, identified by its unified social credit code."""

    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint(in_list("level", ISSUER_LEVELS), name="level"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    usci: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    level: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Holder(Base):
    """A person. The document number is never stored in clear: a keyed hash finds it, a cipher keeps it."""

    __tablename__ = "holders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    id_type: Mapped[str] = mapped_column(String(32))
    id_hash: Mapped[str] = mapped_column(KeyedHash, unique=True)
    id_cipher: Mapped[str] = mapped_column(Text)
    id_masked: Mapped[str] = mapped_column(String(40))
    # Looked up by exact name in the console's registry search (the name is stored in clear; the number not).
    name: Mapped[str] = mapped_column(String(100), index=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The columns of a credential a recognition rule reads (app.verification.rules_preview) and its validity:
# included in ix_credentials_listing on PostgreSQL (migration 0011 says why).
PREVIEW_FACTS = [
    "valid_from",
    "valid_until",
    "issuer_id",
    "title_code",
    "skill_level",
    "card_system",
    "card_class",
]


class Credential(Base):
    """A title certificate, skill certificate or talent card: common columns plus those of its kind."""

    __tablename__ = "credentials"
    __table_args__ = (
        # Number first: the key also serves the console's search by number alone (no index of its own); an
        # ON CONFLICT or look-up naming all three columns does not care about the order.
        UniqueConstraint("number", "kind", "region_code"),
        CheckConstraint(in_list("kind", KINDS), name="kind"),
        CheckConstraint(in_list("status", STATUSES), name="status"),
        CheckConstraint("kind != 'title' OR title_code IS NOT NULL", name="title_fields"),
        CheckConstraint(
            "kind != 'skill' OR (occupation_code IS NOT NULL AND skill_level IS NOT NULL)",
            name="skill_fields",
        ),
        CheckConstraint(
            "kind != 'card' OR (card_system IS NOT NULL AND card_class IS NOT NULL)", name="card_fields"
        ),
        CheckConstraint(
            "kind != 'permit' OR (permit_class IS NOT NULL AND employer_name IS NOT NULL "
            "AND employer_usci IS NOT NULL)",
            name="permit_fields",
        ),
        CheckConstraint(
            "valid_until IS NULL OR valid_from IS NULL OR valid_until >= valid_from", name="window"
        ),
        # Keyset pagination walks (kind, region, status) filters in id order. On PostgreSQL the index also
        # carries what a rule preview groups by and what a bulk preview counts by (status, validity), so
        # those aggregates over a kind and region are index-only scans, not a read of every row's page.
        Index(
            "ix_credentials_listing",
            "kind",
            "region_code",
            "status",
            "id",
            postgresql_include=PREVIEW_FACTS,
        ),
        # A bulk status change's preview counts by status and lapse over an issuer or an issue-date range:
        # with those two columns in the index (PostgreSQL) the count never reads the table.
        Index("ix_credentials_issuer_id", "issuer_id", postgresql_include=["status", "valid_until"]),
        Index("ix_credentials_issued_on", "issued_on", postgresql_include=["status", "valid_until"]),
        # Only versions that replaced another have one: the index holds just those (a successor's look-up).
        Index(
            "ix_credentials_supersedes_id",
            "supersedes_id",
            postgresql_where=text("supersedes_id IS NOT NULL"),
            sqlite_where=text("supersedes_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    # The code columns (region, title code, level, card system and class, permit class) are no foreign keys:
    # code tables are never deleted from (migration 0016's triggers), and every writer checks its codes in
    # its own transaction (docs/architecture.md, "Integrity of codes").
    region_code: Mapped[str] = mapped_column(String(8))
    number: Mapped[str] = mapped_column(String(64))
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"), index=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("credentials.id"))
    # The import job that last inserted or changed this credential (null when written one by one): an
    # admin acts on "that batch" (a bulk status change by import job). Not a foreign key: jobs may be purged.
    import_job_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # title
    title_code: Mapped[str | None] = mapped_column(String(4))
    specialty: Mapped[str | None] = mapped_column(String(100))
    obtained_on: Mapped[date | None] = mapped_column(Date)
    approval_no: Mapped[str | None] = mapped_column(String(100))
    review_body: Mapped[str | None] = mapped_column(String(200))
    # skill
    occupation_code: Mapped[str | None] = mapped_column(String(16))
    occupation_name: Mapped[str | None] = mapped_column(String(100))
    skill_level: Mapped[int | None] = mapped_column(Integer)
    work_type: Mapped[str | None] = mapped_column(String(100))
    number_format: Mapped[str | None] = mapped_column(String(32))
    # card
    card_system: Mapped[str | None] = mapped_column(String(32))
    card_class: Mapped[str | None] = mapped_column(String(16))
    entitlements: Mapped[list[str] | None] = mapped_column(Json)
    # permit (the employer is named as printed, not registered as an organisation: it issues nothing)
    permit_class: Mapped[str | None] = mapped_column(String(4))
    employer_name: Mapped[str | None] = mapped_column(String(200))
    employer_usci: Mapped[str | None] = mapped_column(String(18))


class StatusChange(Base):
    """Each status transition of a credential, kept so a suspension can be explained and reversed."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("credentials.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TitleSeries(Base):
    __tablename__ = "title_series"

    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class TitleCode(Base):
    """MOHRSS title code → name, series and level (the level is not derivable from the digits)."""

    __tablename__ = "title_codes"

    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    series_code: Mapped[str] = mapped_column(ForeignKey("title_series.code"))
    level: Mapped[str] = mapped_column(String(16))


class SkillLevel(Base):
    """A skill level code (1-5 the five-level scheme, 6-8 added by the eight-level scheme) and its place.

    The codes are stable (records and certificate numbers refer to them); `rank` orders the levels, lowest 1
    (学徒工) upwards, because the codes do not (1 is 一级/高级技师, 5 is 五级/初级工).
    """

    __tablename__ = "skill_levels"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(50))
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    scheme: Mapped[str] = mapped_column(String(16))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)


class CardSystem(Base):
    __tablename__ = "card_systems"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    name: Mapped[str] = mapped_column(String(100))
    validity_years: Mapped[int | None] = mapped_column(Integer)
    # The days it issues NEW cards, half-open [issuing_from, issuing_until) (app.domain.date_windows); None
    # leaves a side open. A closed window refuses new cards only: those issued verify until they expire.
    issuing_from: Mapped[date | None] = mapped_column(Date)
    issuing_until: Mapped[date | None] = mapped_column(Date)


class CardClass(Base):
    __tablename__ = "card_classes"

    system_code: Mapped[str] = mapped_column(ForeignKey("card_systems.code"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class CardService(Base):
    __tablename__ = "card_services"

    system_code: Mapped[str] = mapped_column(ForeignKey("card_systems.code"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    tier: Mapped[str | None] = mapped_column(String(16))


class PermitClass(Base):
    """A class of foreign-talent work permit (A 高端, B 专业, C 其他) and its points threshold, if any."""

    __tablename__ = "permit_classes"

    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    min_points: Mapped[int | None] = mapped_column(Integer)


class Area(Base):
    """A named area a recognition rule may be scoped to (a pilot zone), with the divisions it spans."""

    __tablename__ = "areas"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # [{"region": "SC", "division": "广安市邻水县"}, …]
    parts: Mapped[list[dict[str, str]]] = mapped_column(Json)


class RecognitionRule(Base):
    """How a credential of one region counts in the other: data an admin can change, with its legal basis."""

    __tablename__ = "recognition_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    source_region: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    target_region: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    # Set: the rule applies only when the verification names this area (the employer the holder moves to is
    # there); null: everywhere in the target region.
    target_area: Mapped[str | None] = mapped_column(ForeignKey("areas.code"))
    mode: Mapped[str] = mapped_column(String(16))
    criteria: Mapped[dict[str, Any]] = mapped_column(Json)
    equivalent: Mapped[dict[str, Any]] = mapped_column(Json)
    basis: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_until: Mapped[date | None] = mapped_column(Date)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    note: Mapped[str | None] = mapped_column(Text)


class SigningKey(Base):
    """The node's ES256 keys. The newest unretired one signs; every one stays published for verification."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    private_key_cipher: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Client(Base):
    """An OAuth 2.0 machine client: an HR system, a counter, an admin tool or a peer node."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_name: Mapped[str | None] = mapped_column(String(200))
    org_usci: Mapped[str | None] = mapped_column(String(18))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    scopes: Mapped[str] = mapped_column(Text)
    secret_hash: Mapped[str | None] = mapped_column(Text)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(Json)
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UsedAssertion(Base):
    """jti values of client assertions already used: the primary key makes replays fail, even in parallel."""

    __tablename__ = "used_assertions"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RateLimitCounter(Base):
    """Fixed-window request counters shared by every worker process (when Redis is not configured)."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)


class AuditEvent(Base):
    """An append-only, hash-chained record of a sensitive action. Holds no personal data."""

    __tablename__ = "audit_events"
    # A credential's recent verifications: its events carry `ref:<digest>` (app/domain/references.py).
    __table_args__ = (Index("ix_audit_events_object_ref", "object_ref", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    # The person behind the action (a staff username), how they signed in and their roles at the time; all
    # three null for a machine client. Hashed into the link only when set, so older links keep verifying.
    actor: Mapped[str | None] = mapped_column(String(64), index=True)
    actor_method: Mapped[str | None] = mapped_column(String(16))
    actor_roles: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_ref: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(Json)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last link, one row: appenders lock it, so events are chained in one order."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    # Where the kept chain starts: the last event removed by a retention purge (0 and the genesis hash before
    # any purge). The first kept event must link to it.
    base_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    base_hash: Mapped[str] = mapped_column(String(64), default="0" * 64, server_default="0" * 64)


class ImportJob(Base):
    """A bulk import: its file, its progress and its counts. Lives in the database so any worker can report
    it, and a job whose worker died can be found (stale heartbeat) and run again."""

    __tablename__ = "import_jobs"
    # The console lists jobs newest first.
    __table_args__ = (
        UniqueConstraint("client_id", "idempotency_key"),
        Index("ix_import_jobs_created", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # a credential kind, or `catalogue`
    mode: Mapped[str] = mapped_column(String(16))
    on_error: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    phase: Mapped[str | None] = mapped_column(String(16))
    client_id: Mapped[str] = mapped_column(String(64))
    # The person who started it (a staff session), as the audit names them; null for a machine client.
    actor: Mapped[str | None] = mapped_column(String(64))
    actor_method: Mapped[str | None] = mapped_column(String(16))
    actor_roles: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(8))
    file_path: Mapped[str] = mapped_column(Text)
    charset: Mapped[str | None] = mapped_column(String(32))
    default_region: Mapped[str | None] = mapped_column(String(8))
    total_rows: Mapped[int | None] = mapped_column(BigInteger)
    processed_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[int] = mapped_column(BigInteger, default=0)
    unchanged: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    problem: Mapped[dict[str, Any] | None] = mapped_column(Json)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StatusChangeJob(Base):
    """A bulk status change: what it selects (a filter or a list), the target, and its progress. Each
    credential changes through the same service as a single change; refusals are counted by their code."""

    __tablename__ = "status_change_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    target_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    # {"filter": {...}} or {"selection": [{"kind", "region", "number"}, ...]}
    criteria: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    # The person who started it, as the audit names them; null for a machine client.
    actor: Mapped[str | None] = mapped_column(String(64))
    actor_method: Mapped[str | None] = mapped_column(String(16))
    actor_roles: Mapped[str | None] = mapped_column(String(64))
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    changed: Mapped[int] = mapped_column(BigInteger, default=0)
    refused: Mapped[int] = mapped_column(BigInteger, default=0)
    # Refusals by the state machine's code, e.g. {"status.forbidden_transition": 3}
    refusals: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    problem: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ImportRowError(Base):
    """One rejected cell or row of an import, by 1-based data row and column. Never holds a cell's value."""

    __tablename__ = "import_row_errors"
    # Errors are written in row order, so id order is row order: pages walk (job_id, id) by keyset.
    __table_args__ = (
        Index("ix_import_row_errors_job_row", "job_id", "row"),
        Index("ix_import_row_errors_job_id", "job_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"))
    row: Mapped[int | None] = mapped_column(BigInteger)
    column: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)


class StatusList(Base):
    """A region's published status lists (one bitstring per purpose, all the same size).

    `revision` moves with every status change of a card, in the change's own transaction: a node rebuilds a
    list only when it moved, and the next list published after a change always shows it.
    """

    __tablename__ = "status_lists"

    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StatusListEntry(Base):
    """A card's place in its region's status lists: drawn at random, never given to another card."""

    __tablename__ = "status_list_entries"
    __table_args__ = (UniqueConstraint("region_code", "list_index"),)

    credential_id: Mapped[int] = mapped_column(ForeignKey("credentials.id"), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("status_lists.region_code"))
    list_index: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PeerDocument(Base):
    """The last copy of a peer's JWKS or signed status list, so a restarted node can still check the peer's
    cards while the peer is unreachable. Public documents only: nothing here is personal data."""

    __tablename__ = "peer_documents"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
