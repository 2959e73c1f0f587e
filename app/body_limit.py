"""Request bodies are capped before any handler reads them."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge
from app.problems import build_problem


class BodySizeLimit:
    """Rejects a declared oversize body at once, and reads an undeclared (chunked) one only up to the cap."""

    def __init__(self, app: ASGIApp, max_bytes: int, streamed: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Paths whose handlers read the body themselves (uploads), with their own, larger caps.
        self.streamed = dict(streamed or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        cap = self.streamed.get(scope["path"])
        if cap is not None:
            if declared is not None and (not declared.isdigit() or int(declared) > cap):
                await self.reject(scope, receive, send, cap)
                return
            await self.app(scope, counted(receive, cap), send)
            return
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self.reject(scope, receive, send)
                return
            # The server (h11/httptools) enforces the declared length, so the body cannot grow past it.
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        # FastAPI turns any error raised while it reads a body into a generic 400, so a chunked body is
        # read here, up to the cap, and replayed to the app.
        body = await read_capped(receive, self.max_bytes)
        if body is None:
            await self.reject(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)

    async def reject(self, scope: Scope, receive: Receive, send: Send, cap: int | None = None) -> None:
        limit = cap or self.max_bytes
        response = build_problem(
            413,
            "payload-too-large",
            "Request body too large",
            f"the body exceeds {limit} bytes",
            scope["path"],
        )
        await response(scope, receive, send)


def counted(receive: Receive, cap: int) -> Receive:
    """Stream the body through, failing once it passes the cap (the handler reads it, so the error surfaces as
    a 413 problem from the handler)."""
    received = 0

    async def counting() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > cap:
                raise PayloadTooLarge(f"the body exceeds {cap} bytes")
        return message

    return counting


async def read_capped(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body, or None as soon as it passes max_bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
