"""The status filter stays index-friendly: PostgreSQL can answer every listing by status from an index."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.status import CredentialStatus
from app.registry.service import CredentialFilter, select_page


@pytest.mark.parametrize("status", [s.value for s in CredentialStatus])
async def test_every_status_filter_has_an_index_path(session: AsyncSession, status: str) -> None:
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        pytest.skip("query plans are PostgreSQL's")
    # With sequential scans priced out, a plan that still scans `credentials` sequentially has no index path:
    # at 10M credentials that would read the whole table for one page.
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    query = select_page(CredentialFilter(kind="card", region="CQ", status=status), after=None, limit=51)
    compiled = query.compile(bind, compile_kwargs={"literal_binds": True})
    plan = "\n".join((await session.execute(text(f"EXPLAIN {compiled}"))).scalars())
    credentials_scans = [line for line in plan.splitlines() if " on credentials" in line]
    assert credentials_scans, plan
    assert not any("Seq Scan" in line for line in credentials_scans), plan
