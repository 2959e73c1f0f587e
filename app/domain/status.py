"""Credential status lifecycle: the states, the allowed transitions and the date-derived effective status."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from app.domain.errors import ForbiddenTransition

__all__ = [
    "ALLOWED_TRANSITIONS",
    "MANUAL_STATUSES",
    "STATUS_LABELS",
    "TERMINAL_STATUSES",
    "CredentialStatus",
    "ForbiddenTransition",
    "check_manual_transition",
    "check_transition",
    "effective_status",
]


class CredentialStatus(StrEnum):
    """Status of a credential, after the national e-licence status codes."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    TRANSFERRED = "transferred"
    SUPERSEDED = "superseded"


STATUS_LABELS: Mapping[CredentialStatus, str] = MappingProxyType(
    {
        CredentialStatus.ACTIVE: "有效",
        CredentialStatus.SUSPENDED: "暂扣",
        CredentialStatus.REVOKED: "撤销",
        CredentialStatus.CANCELLED: "注销",
        CredentialStatus.EXPIRED: "失效",
        CredentialStatus.TRANSFERRED: "转出",
        CredentialStatus.SUPERSEDED: "已更正",
    }
)

_S = CredentialStatus
ALLOWED_TRANSITIONS: Mapping[CredentialStatus, frozenset[CredentialStatus]] = MappingProxyType(
    {
        _S.ACTIVE: frozenset(
            {_S.SUSPENDED, _S.REVOKED, _S.CANCELLED, _S.EXPIRED, _S.TRANSFERRED, _S.SUPERSEDED}
        ),
        # Suspension (暂扣) is reversible: reinstatement (暂扣发还) returns to active. A suspended credential
        # cannot move to another region or be corrected until the suspension is resolved.
        _S.SUSPENDED: frozenset({_S.ACTIVE, _S.REVOKED, _S.CANCELLED, _S.EXPIRED}),
        # An expired credential can be re-issued (the new version supersedes it). It can still be cancelled
        # (holder's death, the issuer withdrawing it) and revoked: 撤销 voids a credential from the start,
        # e.g. when fraud is found later, and verifiers looking at the history must see that, not a mere
        # expiry.
        _S.EXPIRED: frozenset({_S.SUPERSEDED, _S.CANCELLED, _S.REVOKED}),
        # Terminal: a revoked credential cannot be suspended or reinstated; a transferred one lives on as the
        # new region's credential; a superseded one as its corrected successor.
        _S.REVOKED: frozenset(),
        _S.CANCELLED: frozenset(),
        _S.TRANSFERRED: frozenset(),
        _S.SUPERSEDED: frozenset(),
    }
)

TERMINAL_STATUSES: frozenset[CredentialStatus] = frozenset(
    status for status, targets in ALLOWED_TRANSITIONS.items() if not targets
)

# Statuses a client may ask for. Expiry follows from dates and supersession from a correction, so the system
# sets those two itself.
MANUAL_STATUSES: frozenset[CredentialStatus] = frozenset(
    {_S.ACTIVE, _S.SUSPENDED, _S.REVOKED, _S.CANCELLED, _S.TRANSFERRED}
)


def check_transition(current: CredentialStatus, target: CredentialStatus) -> None:
    """Raise ForbiddenTransition unless `current -> target` is an allowed change of status."""
    if current == target:
        raise ForbiddenTransition(
            "status.unchanged", f"The credential is already {current.value}.", current_status=current.value
        )
    if target not in ALLOWED_TRANSITIONS[current]:
        raise ForbiddenTransition(
            "status.forbidden_transition",
            f"A credential cannot change from {current.value} to {target.value}.",
            current_status=current.value,
        )


def check_manual_transition(current: CredentialStatus, target: CredentialStatus) -> None:
    """Like check_transition, but also refuse targets only the system may set (expired, superseded)."""
    if target not in MANUAL_STATUSES:
        raise ForbiddenTransition(
            "status.not_manual",
            f"The status {target.value} is set by the system only.",
            current_status=current.value,
        )
    check_transition(current, target)


def effective_status(stored: CredentialStatus, valid_until: date | None, today: date) -> CredentialStatus:
    """Return the status to show: active or suspended past the last valid day counts as expired."""
    if stored in (_S.ACTIVE, _S.SUSPENDED) and valid_until is not None and valid_until < today:
        return _S.EXPIRED
    return stored
