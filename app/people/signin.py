"""Local sign-in: password (Argon2id) and a TOTP code, with a lock after failures in a row.

One answer for an unknown name, a wrong password and a wrong code (`session.invalid`), in the same time:
an unknown name is checked against a decoy hash, and it is locked exactly as a real one is (the counter is
keyed by a keyed hash of the name typed, not by the account). Failures and lock-outs are audit events;
they are returned, not raised, so that the request commits them with its answer.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record_event
from app.errors import AppError
from app.models import SignInThrottle, StaffMember
from app.passwords import hash_secret, needs_rehash, secret_matches_hash
from app.people.accounts import find_staff, normalise_username, roles_of
from app.people.totp import accepted_step, new_totp_secret, totp_qr_svg, totp_uri
from app.privacy import PersonalDataVault


class SignInRefused(AppError):
    status, slug, title = 401, "sign-in-refused", "Sign-in refused"


class SignInLocked(AppError):
    status, slug, title = 429, "sign-in-locked", "Too many failed sign-ins"


@dataclass(frozen=True)
class SignInPolicy:
    lock_after: int
    lock_for: timedelta
    totp_roles: frozenset[str]
    client_id: str  # the client named in the audit events (huren's own pages)


@dataclass(frozen=True)
class SignInOutcome:
    member: StaffMember | None = None
    refusal: AppError | None = None


def invalid() -> SignInRefused:
    return SignInRefused("the user name, password or code is not right", code="session.invalid")


def totp_context(member: StaffMember) -> str:
    return f"totp:{member.username}"  # the sealed secret opens only for this person


async def sign_in_with_password(
    session: AsyncSession,
    vault: PersonalDataVault,
    policy: SignInPolicy,
    *,
    username: str,
    password: str,
    otp: str | None,
    now: datetime,
) -> SignInOutcome:
    name = normalise_username(username)
    throttle = await load_throttle(session, vault.keyed_hash("sign-in", name), now)
    if throttle.locked_until is not None and throttle.locked_until > now:
        retry = max(1, math.ceil((throttle.locked_until - now).total_seconds()))
        return SignInOutcome(refusal=locked(retry))
    member = await find_staff(session, name)
    usable = (
        member if member is not None and member.disabled_at is None and member.source == "local" else None
    )
    stored = usable.password_hash if usable is not None else None
    # Argon2id takes ~20 ms of CPU: off the event loop, so other requests are not held up meanwhile.
    if not await asyncio.to_thread(secret_matches_hash, stored, password) or usable is None:
        return fail(session, throttle, policy, member, now, reason="password")
    if stored is not None and needs_rehash(stored):
        usable.password_hash = hash_secret(password)
    if policy.totp_roles.isdisjoint(roles_of(usable)) and usable.totp_enrolled_at is None:
        return succeed(session, throttle, usable)
    return second_factor(session, vault, policy, throttle, usable, otp, now)


def second_factor(
    session: AsyncSession,
    vault: PersonalDataVault,
    policy: SignInPolicy,
    throttle: SignInThrottle,
    member: StaffMember,
    otp: str | None,
    now: datetime,
) -> SignInOutcome:
    if member.totp_secret_sealed is None:
        # The first sign-in: a new secret, kept (sealed) until a code from it proves the app has it.
        member.totp_secret_sealed = vault.seal(totp_context(member), new_totp_secret())
    secret = vault.unseal(totp_context(member), member.totp_secret_sealed)
    if not otp:
        if member.totp_enrolled_at is None:
            uri = totp_uri(secret, member.username)
            return SignInOutcome(
                refusal=SignInRefused(
                    "scan the QR code with an authenticator app, then sign in again with its code",
                    code="session.otp_enrolment_required",
                    otp_uri=uri,
                    otp_qr_svg=totp_qr_svg(uri),
                )
            )
        return SignInOutcome(
            refusal=SignInRefused("enter the code from your authenticator app", code="session.otp_required")
        )
    step = accepted_step(secret, otp, now, member.totp_last_step)
    if step is None:
        return fail(session, throttle, policy, member, now, reason="otp")
    member.totp_last_step = step
    if member.totp_enrolled_at is None:
        member.totp_enrolled_at = now
        record_event(
            session,
            "staff.factor_enrolled",
            client_id=policy.client_id,
            object_ref=f"staff:{member.username}",
        )
    return succeed(session, throttle, member)


async def load_throttle(session: AsyncSession, name_hash: str, now: datetime) -> SignInThrottle:
    """The name's counter, created if new, locked for this transaction: two failures at once are both
    counted (SQLite serialises writers anyway)."""
    dialect = session.get_bind().dialect.name
    make_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        make_insert(SignInThrottle)
        .values(name_hash=name_hash, failures=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name_hash"])
    )
    throttle = await session.scalar(
        select(SignInThrottle)
        .where(SignInThrottle.name_hash == name_hash)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert throttle is not None  # inserted just above if it was not there
    return throttle


def locked(retry_after: int) -> SignInLocked:
    return SignInLocked(
        f"too many failed sign-ins: try again in {math.ceil(retry_after / 60)} minutes",
        code="session.locked",
        headers={"Retry-After": str(retry_after)},
    )


def fail(
    session: AsyncSession,
    throttle: SignInThrottle,
    policy: SignInPolicy,
    member: StaffMember | None,
    now: datetime,
    *,
    reason: str,
) -> SignInOutcome:
    throttle.failures = (throttle.failures or 0) + 1
    throttle.updated_at = now
    # The name typed is never recorded: people type passwords into the name field.
    ref = f"staff:{member.username}" if member is not None else "staff:(unknown)"
    record_event(
        session,
        "session.sign_in_failed",
        outcome="failure",
        client_id=policy.client_id,
        object_ref=ref,
        details={"reason": reason, "failures": throttle.failures},
    )
    if throttle.failures >= policy.lock_after:
        throttle.locked_until = now + policy.lock_for
        throttle.failures = 0
        record_event(
            session,
            "session.locked",
            outcome="failure",
            client_id=policy.client_id,
            object_ref=ref,
            details={"minutes": int(policy.lock_for.total_seconds() // 60)},
        )
    return SignInOutcome(refusal=invalid())


def succeed(session: AsyncSession, throttle: SignInThrottle, member: StaffMember) -> SignInOutcome:
    throttle.failures = 0
    throttle.locked_until = None
    return SignInOutcome(member=member)
