"""A request id for every request: taken from X-Request-ID when it is sane, else made; echoed in the answer
and written into audit events, so an integrator's ticket can be matched to our records."""

from __future__ import annotations

import logging
import re
import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SANE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{8,64}$")


def request_id_of(request: Request) -> str | None:
    """The id RequestIdMiddleware gave this request (None where it did not run, as in some tests)."""
    request_id: str | None = getattr(request.state, "request_id", None)
    return request_id


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"")
        request_id = given.decode() if SANE_REQUEST_ID.match(given) else secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id

        async def add_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, add_header)


class QueryRedactor(logging.Filter):
    """Drops the query string from uvicorn's access log lines: a query can carry what must never be logged
    (the single sign-on callback's authorization code and state, a number someone searched for)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], args[2].split("?", 1)[0] + "?…", args[3], args[4])
        return True


def redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QueryRedactor) for f in access.filters):
        access.addFilter(QueryRedactor())
