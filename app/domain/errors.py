"""The error family every domain rule raises."""

from __future__ import annotations


class DomainError(ValueError):
    """A rule was broken.

    `code` is stable and dotted (for clients and tests); `message` is English prose. Neither may ever
    contain the rejected value: document numbers are personal information and error texts end up in logs
    and responses.
    """

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        # Both go into args so that the exception survives pickling (e.g. across process pools).
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


class ForbiddenTransition(DomainError):
    """A credential status change that the lifecycle state machine does not allow."""
