"""The error every domain rule raises: a member of the app's one error family (app.errors.AppError)."""

from __future__ import annotations

from typing import Any

from app.errors import AppError


class DomainError(AppError, ValueError):
    """A rule was broken: answered as a 422 problem carrying `code`, unless a caller says more.

    `code` is stable and dotted (for clients and tests); `message` is English prose. Neither may ever
    contain the rejected value: document numbers are personal information and error texts end up in logs
    and responses. Still a ValueError, so that a rule checked inside a pydantic validator becomes a field
    error there, never an unhandled exception.
    """

    status, slug, title = 422, "validation-error", "The request is not valid"

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message, code=code, **extra)
        self.code = code
        self.message = message
        # What pickling rebuilds the error from (e.g. across process pools); `extra` travels in __dict__.
        self.args = (code, message)

    def __str__(self) -> str:
        return self.message


class ForbiddenTransition(DomainError):
    """A credential status change that the lifecycle state machine does not allow."""

    status, slug, title = 409, "forbidden-transition", "Status change not allowed"
