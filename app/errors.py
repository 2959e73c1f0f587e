"""The app's one error family: every failure a caller can act on is an AppError, rendered as an RFC 9457
application/problem+json answer by app.problems. Plain Python: any layer may raise these (the domain rules'
DomainError is one of them) without importing the web framework."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class AppError(Exception):
    """A failure the client can act on. `slug` names the problem type; `detail` is safe to show."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = headers
        self.extra = extra


class InvalidInput(AppError):
    status, slug, title = 422, "validation-error", "The request is not valid"


def invalid_field(field: str, code: str, message: str, location: str = "body") -> InvalidInput:
    """A 422 naming one field, for checks that need the database or more than one field."""
    return InvalidInput(
        f"invalid: {field}", errors=[{"field": field, "location": location, "code": code, "message": message}]
    )


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(AppError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(AppError):
    status, slug, title = 403, "insufficient-scope", "Insufficient scope"


class DatabaseUnavailable(AppError):
    """The database cannot be reached, refused a connection, or did not answer within its time-out. Nothing
    was decided and nothing was recorded: the client may retry after `Retry-After` seconds."""

    status, slug, title = 503, "database-unavailable", "The database is unavailable"
