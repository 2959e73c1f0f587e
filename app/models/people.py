"""The tables of people: staff, their roles, sign-in throttling, browser sessions, single sign-on logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.columns import BigId, UTCDateTime, in_list, utcnow

STAFF_ROLE_NAMES = ("admin", "clerk", "auditor")
SIGN_IN_METHODS = ("password", "oidc")


class StaffRole(Base):
    """A role a person can hold, and the API scopes it grants: data, seeded by the migration."""

    __tablename__ = "staff_roles"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    scopes: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200))


class StaffMember(Base):
    """A person who signs in: a clerk, an admin or an auditor, acting for one or both regions."""

    __tablename__ = "staff"
    __table_args__ = (CheckConstraint(in_list("source", ("local", "oidc")), name="source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    # Comma-separated, sorted: "CQ,SC" and "admin,clerk". Checked against regions and staff_roles on write.
    regions: Mapped[str] = mapped_column(String(64))
    roles: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(8), default="local")
    # Argon2id; null for a person who only signs in through the identity provider.
    password_hash: Mapped[str | None] = mapped_column(Text)
    # The TOTP secret, sealed with the data key (AES-GCM, the username as authenticated data).
    totp_secret_sealed: Mapped[str | None] = mapped_column(Text)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last time step a code was accepted for: RFC 6238 §5.2, a code is good once.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    oidc_subject: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SignInThrottle(Base):
    """Failed sign-ins in a row per user name, known or not (keyed hash of the name): an unknown name is
    locked exactly as a real one is, so the lock-out says nothing about who exists."""

    __tablename__ = "sign_in_throttle"

    name_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StaffSession(Base):
    """A browser session, server-side so that every worker sees a sign-out or a disabled person at once.
    Only a hash of the cookie's value is kept: a copy of this table signs nobody in."""

    __tablename__ = "staff_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OidcLogin(Base):
    """A single sign-on under way: what the callback must find (state, nonce, PKCE verifier, where to go),
    bound to the browser that started it by a cookie whose hash is the key. Used once."""

    __tablename__ = "oidc_logins"

    binding_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_path: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
