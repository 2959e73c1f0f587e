"""Browser sessions of staff, kept in the database: any worker finds them, and a sign-out or a disabled
person ends them everywhere at the next request.

The cookie holds 256 random bits; the table holds only their SHA-256, so a copy of the table signs nobody
in. A session ends after `idle` without a request or `absolute` after sign-in, whichever comes first.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import NamedTuple

from sqlalchemy import Dialect, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db import Transactions, driver_connection
from app.errors import Unauthorized
from app.models import StaffMember, StaffSession
from app.people.roles import RoleBook, split_list
from app.security import Person, Principal

# The client an event names when a person acted through huren's own pages.
SESSION_CLIENT_ID = "huren-web"
SECURE_COOKIE = "__Host-huren_session"
PLAIN_COOKIE = "huren_session"
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


LOOK_UP = (
    select(
        StaffSession.staff_id,
        StaffSession.method,
        StaffSession.csrf_token,
        StaffSession.last_seen_at,
        StaffSession.expires_at,
        StaffSession.ended_at,
        StaffMember.username,
        StaffMember.display_name,
        StaffMember.roles,
        StaffMember.regions,
        StaffMember.disabled_at,
    )
    .join(StaffMember, StaffMember.id == StaffSession.staff_id)
    .where(StaffSession.id_hash == bindparam("key"))
)
TOUCH = (
    update(StaffSession).where(StaffSession.id_hash == bindparam("key")).values(last_seen_at=bindparam("now"))
)


class SessionRow(NamedTuple):
    """LOOK_UP's columns, in order."""

    staff_id: int
    method: str
    csrf_token: str
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    username: str
    display_name: str
    roles: str
    regions: str
    disabled_at: datetime | None


@cache
def compiled_look_up(dialect: Dialect) -> str:
    return LOOK_UP.compile(dialect=dialect).string


async def find_session(conn: AsyncConnection, key: str) -> SessionRow | None:
    """The session and its person, read afresh. On asyncpg the statement is run by the driver on the pooled
    connection (prepared once per connection), as the verification look-up is: SQLAlchemy's execution
    (greenlet hop, cursor, result processing) cost more CPU than the query. timestamptz comes back aware."""
    if conn.dialect.driver == "asyncpg":
        async with driver_connection(conn) as raw:
            record = await raw.fetchrow(compiled_look_up(conn.dialect), key)
    else:
        record = (await conn.execute(LOOK_UP, {"key": key})).first()
    return None if record is None else SessionRow(*record)


def cookie_name_for(public_url: str) -> str:
    """`__Host-` needs the Secure flag, which a browser refuses over plain http: the prefixed name where the
    node is served over https (production), a plain name on http://127.0.0.1 (the embedded default)."""
    return SECURE_COOKIE if public_url.startswith("https://") else PLAIN_COOKIE


def session_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_expired() -> Unauthorized:
    return Unauthorized("the session has ended: sign in again", code="session.expired")


@dataclass(frozen=True)
class SessionTimes:
    idle: timedelta
    absolute: timedelta


class StaffSessions:
    """Finds the person behind a session cookie (security.SessionResolver), once per request.

    The row is read on every request, so a sign-out or a disabled person counts at the next request on every
    worker. It is read through `reads` (app.main: connections without a transaction of their own): a write
    transaction per check (BEGIN, SELECT, COMMIT; on SQLite the write lock) made a session-authenticated
    verification cost 1.7 to 2 times the CPU of a token-authenticated one (bench/RESULTS.md; 1.3 to 1.4 this
    way). Only the occasional last_seen_at update takes a write transaction."""

    def __init__(
        self,
        reads: Transactions,
        transactions: Transactions,
        roles: RoleBook,
        *,
        cookie_name: str,
        times: SessionTimes,
    ) -> None:
        self.reads, self.transactions, self.roles = reads, transactions, roles
        self.cookie_name, self.times = cookie_name, times
        # last_seen_at is written at most this often per session: a write per request would cost more than
        # the look-up, and the idle time-out is counted in minutes.
        self.touch_every = min(timedelta(seconds=60), times.idle / 10)
        # What was read of live sessions, kept only while this worker hears of every change
        # (app.people.session_changes, PostgreSQL): a notification drops the entry before the next request.
        self.kept: dict[str, SessionRow] = {}
        self.listening = False
        self.changes_heard = 0

    def set_listening(self, listening: bool) -> None:
        self.kept.clear()  # whatever was kept may have changed unheard
        self.changes_heard += 1
        self.listening = listening

    def forget(self, payload: str) -> None:
        """A notification: `session:<key>` ended, or `staff:<id>` changed (every session of theirs)."""
        self.changes_heard += 1
        kind, _, value = payload.partition(":")
        if kind == "session":
            self.kept.pop(value, None)
        elif kind == "staff" and value.isdigit():
            for key in [key for key, row in self.kept.items() if row.staff_id == int(value)]:
                del self.kept[key]
        else:
            self.kept.clear()

    async def read_session(self, key: str, now: datetime) -> SessionRow | None:
        row = self.kept.get(key)
        # A kept row is used until it is due a touch: the idle time-out is then judged on a fresh read, as
        # another worker may have seen the person since.
        if row is not None and now - row.last_seen_at < self.touch_every:
            return row
        heard = self.changes_heard
        async with self.reads() as conn:
            row = await find_session(conn, key)
        # Kept only if no change was heard while it was read: the read may predate that change.
        if row is not None and self.listening and heard == self.changes_heard:
            if len(self.kept) > 50_000:
                self.kept.clear()
            self.kept[key] = row
        return row

    async def principal_for(self, token: str, now: datetime) -> Principal:
        if not 32 <= len(token) <= 128:
            raise session_expired()
        key = session_key(token)
        row = await self.read_session(key, now)
        if row is None or row.ended_at is not None or row.disabled_at is not None:
            raise session_expired()
        if now >= row.expires_at or now - row.last_seen_at > self.times.idle:
            raise session_expired()
        if now - row.last_seen_at >= self.touch_every:
            async with self.transactions() as conn:
                await conn.execute(TOUCH, {"key": key, "now": now})
            if key in self.kept:
                self.kept[key] = row._replace(last_seen_at=now)
        roles, regions = split_list(row.roles), split_list(row.regions)
        person = Person(
            username=row.username,
            display_name=row.display_name,
            method=row.method,
            roles=roles,
            regions=regions,
            session_key=key,
            csrf_token=row.csrf_token,
        )
        # A person acting for two regions is taken as of the first listed: recognition is judged from there.
        return Principal(SESSION_CLIENT_ID, regions[0], await self.roles.scopes_of(roles), None, person)


@dataclass(frozen=True)
class NewSession:
    token: str  # the cookie's value: set once, never stored
    csrf_token: str
    record: StaffSession


async def start_session(
    session: AsyncSession, member: StaffMember, *, method: str, now: datetime, times: SessionTimes
) -> NewSession:
    """A new session with a fresh random id (never one the browser brought: no session fixation)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    record = StaffSession(
        id_hash=session_key(token),
        staff_id=member.id,
        method=method,
        csrf_token=csrf,
        created_at=now,
        last_seen_at=now,
        expires_at=now + times.absolute,
    )
    session.add(record)
    await session.flush()
    return NewSession(token, csrf, record)


async def end_session(session: AsyncSession, key: str, now: datetime) -> None:
    await session.execute(
        update(StaffSession)
        .where(StaffSession.id_hash == key, StaffSession.ended_at.is_(None))
        .values(ended_at=now)
    )
