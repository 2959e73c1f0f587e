"""The credential status state machine, checked pair by pair against an independent table."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from app.domain.errors import DomainError
from app.domain.status import (
    ALLOWED_TRANSITIONS,
    MANUAL_STATUSES,
    STATUS_LABELS,
    TERMINAL_STATUSES,
    CredentialStatus,
    ForbiddenTransition,
    check_manual_transition,
    check_transition,
    effective_status,
)

S = CredentialStatus

# Written out by hand from the lifecycle rules, not derived from the implementation.
EXPECTED_ALLOWED = {
    (S.ACTIVE, S.SUSPENDED),
    (S.ACTIVE, S.REVOKED),
    (S.ACTIVE, S.CANCELLED),
    (S.ACTIVE, S.EXPIRED),
    (S.ACTIVE, S.TRANSFERRED),
    (S.ACTIVE, S.SUPERSEDED),
    (S.SUSPENDED, S.ACTIVE),
    (S.SUSPENDED, S.REVOKED),
    (S.SUSPENDED, S.CANCELLED),
    (S.SUSPENDED, S.EXPIRED),
    (S.EXPIRED, S.SUPERSEDED),
    (S.EXPIRED, S.CANCELLED),
    (S.EXPIRED, S.REVOKED),
}
ALL_PAIRS = list(itertools.product(CredentialStatus, repeat=2))


def test_seven_statuses() -> None:
    assert [s.value for s in CredentialStatus] == [
        "active", "suspended", "revoked", "cancelled", "expired", "transferred", "superseded"
    ]  # fmt: skip
    assert set(ALLOWED_TRANSITIONS) == set(CredentialStatus)


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_transition_table(current: CredentialStatus, target: CredentialStatus) -> None:
    if current == target:
        with pytest.raises(ForbiddenTransition) as caught:
            check_transition(current, target)
        assert caught.value.code == "status.unchanged"
    elif (current, target) in EXPECTED_ALLOWED:
        check_transition(current, target)
        assert target in ALLOWED_TRANSITIONS[current]
    else:
        with pytest.raises(ForbiddenTransition) as caught:
            check_transition(current, target)
        assert caught.value.code == "status.forbidden_transition"
        assert target not in ALLOWED_TRANSITIONS[current]


def test_terminal_statuses() -> None:
    assert {S.REVOKED, S.CANCELLED, S.TRANSFERRED, S.SUPERSEDED} == TERMINAL_STATUSES
    for terminal in TERMINAL_STATUSES:
        assert ALLOWED_TRANSITIONS[terminal] == frozenset()
        for target in CredentialStatus:
            with pytest.raises(ForbiddenTransition):
                check_transition(terminal, target)


@pytest.mark.parametrize("target", [S.SUSPENDED, S.ACTIVE])
def test_revoked_cannot_be_suspended_or_reinstated(target: CredentialStatus) -> None:
    with pytest.raises(ForbiddenTransition) as caught:
        check_transition(S.REVOKED, target)
    assert caught.value.code == "status.forbidden_transition"
    assert isinstance(caught.value, DomainError)


def test_manual_statuses() -> None:
    assert {S.ACTIVE, S.SUSPENDED, S.REVOKED, S.CANCELLED, S.TRANSFERRED} == MANUAL_STATUSES


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_manual_transitions(current: CredentialStatus, target: CredentialStatus) -> None:
    if target not in MANUAL_STATUSES:
        with pytest.raises(ForbiddenTransition) as caught:
            check_manual_transition(current, target)
        assert caught.value.code == "status.not_manual"
    elif current != target and (current, target) in EXPECTED_ALLOWED:
        check_manual_transition(current, target)
    else:
        with pytest.raises(ForbiddenTransition) as caught:
            check_manual_transition(current, target)
        assert caught.value.code in {"status.unchanged", "status.forbidden_transition"}


def test_labels() -> None:
    assert set(STATUS_LABELS) == set(CredentialStatus)
    assert STATUS_LABELS[S.ACTIVE] == "有效"
    assert STATUS_LABELS[S.SUSPENDED] == "暂扣"
    assert STATUS_LABELS[S.REVOKED] == "撤销"
    assert STATUS_LABELS[S.CANCELLED] == "注销"
    assert STATUS_LABELS[S.EXPIRED] == "失效"
    assert STATUS_LABELS[S.TRANSFERRED] == "转出"
    assert len(set(STATUS_LABELS.values())) == len(STATUS_LABELS)


TODAY = date(2025, 6, 1)
YESTERDAY = TODAY - timedelta(days=1)


@pytest.mark.parametrize(
    ("stored", "valid_until", "expected"),
    [
        (S.ACTIVE, None, S.ACTIVE),
        (S.ACTIVE, TODAY, S.ACTIVE),  # the last valid day is still valid
        (S.ACTIVE, TODAY + timedelta(days=30), S.ACTIVE),
        (S.ACTIVE, YESTERDAY, S.EXPIRED),
        (S.SUSPENDED, YESTERDAY, S.EXPIRED),
        (S.SUSPENDED, TODAY, S.SUSPENDED),
        (S.REVOKED, YESTERDAY, S.REVOKED),
        (S.CANCELLED, YESTERDAY, S.CANCELLED),
        (S.TRANSFERRED, YESTERDAY, S.TRANSFERRED),
        (S.SUPERSEDED, YESTERDAY, S.SUPERSEDED),
        (S.EXPIRED, None, S.EXPIRED),
    ],
)
def test_effective_status(
    stored: CredentialStatus, valid_until: date | None, expected: CredentialStatus
) -> None:
    assert effective_status(stored, valid_until, TODAY) is expected
