"""The one per-request session dependency: its transaction commits with the audit events it queued.

Here rather than in app.db, which the models (and so the audit service) build on: the database plumbing
does not know about audit, the request's unit of work does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Protocol

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import append_pending_events
from app.services import services_of


class SessionServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...


def services(request: Request) -> SessionServices:
    view: SessionServices = services_of(request)
    return view


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: commits when the handler returns, before the response is sent.

    Audit events the request queued are appended in the same transaction, just before the commit.
    """
    maker: async_sessionmaker[AsyncSession] = services(request).sessionmaker
    async with maker() as session:
        try:
            yield session
            await append_pending_events(session)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
