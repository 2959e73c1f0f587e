"""Hearing, in every worker, that a session ended or a person changed: PostgreSQL LISTEN/NOTIFY.

Triggers on `staff_sessions` (its `ended_at` set, a row deleted) and on `staff` (any change: disabled, roles,
factor reset) send `pg_notify('huren_sessions', 'session:<key>' | 'staff:<id>')`, which PostgreSQL delivers
when the change commits, to every listening worker, whoever made it (a request, `huren staff disable`, an
admin's SQL). A worker may then keep what it read of a session between requests and still refuse an ended
one at the next request. While it is not listening (starting, or its connection lost) it keeps nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

CHANNEL = "huren_sessions"
log = logging.getLogger("huren.sessions")


class SessionChanges:
    """A connection of its own that LISTENs; `on_change(payload)` is called for each notification, and
    `on_listening(bool)` when listening starts or stops (reconnecting with back-off)."""

    def __init__(
        self,
        database_url: str,
        on_change: Callable[[str], None],
        on_listening: Callable[[bool], None],
        retry_seconds: float = 1.0,
    ) -> None:
        self.dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.on_change, self.on_listening, self.retry_seconds = on_change, on_listening, retry_seconds
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.listen_forever())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def listen_forever(self) -> None:
        delay = self.retry_seconds
        while True:
            try:
                await self.listen_once()
                delay = self.retry_seconds
                log.warning("session change listener lost its connection; reconnecting")
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                log.warning("session change listener cannot connect (%s); retrying", type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def listen_once(self) -> None:
        """Listen on one connection until it is lost; not listening from then on."""
        lost = asyncio.Event()
        connection = await asyncpg.connect(self.dsn, timeout=10)
        try:
            connection.add_termination_listener(lambda _: lost.set())
            await connection.add_listener(CHANNEL, self.deliver)
            self.on_listening(True)
            await lost.wait()
        finally:
            self.on_listening(False)
            # No await here: when the task is cancelled or collected, the connection just goes.
            if not connection.is_closed():
                connection.terminate()

    def deliver(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self.on_change(payload)
