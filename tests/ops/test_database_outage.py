"""PostgreSQL lost under load, against a real `huren serve` on a database of its own.

While clients verify, the test terminates every connection of that database (as a restart or a failover
does), and later refuses new ones for a while. Every answer must be 200 or a 503 problem with Retry-After,
within a bound; the node must answer 200 again without being restarted; and no 200 may lack its audit event.
Only this node's database is touched: other test runs use the machine's PostgreSQL at the same time.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.processes import fetch_token, free_port, huren_env, run_huren, serve

pytestmark = pytest.mark.slow

CLIENTS = 8
# Every answer within this, outage or not: pool checkout 1 s + connect 1 s + statement 2 s, with room for a
# loaded machine.
ANSWER_BOUND_SECONDS = 10.0
RECOVERY_SECONDS = 5.0


@dataclass(frozen=True)
class Node:
    url: str
    env: dict[str, str]
    database: str
    admin_dsn: str
    log: Path


@dataclass(frozen=True)
class Answer:
    request_id: str
    status: int
    content_type: str
    retry_after: str | None
    body: str
    seconds: float


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    configured = os.environ.get("HUREN_TEST_DATABASE_URL", "")
    if not configured.startswith("postgresql"):
        pytest.skip("a PostgreSQL outage needs HUREN_TEST_DATABASE_URL")
    url = make_url(configured)
    database = f"{url.database}_outage"
    admin_dsn = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    asyncio.run(recreate_database(admin_dsn, database))
    folder = tmp_path_factory.mktemp("outage")
    env = huren_env(
        folder / "unused.db",
        HUREN_DB_STATEMENT_TIMEOUT_MS="2000",
        HUREN_DB_POOL_TIMEOUT_SECONDS="1",
        HUREN_DB_CONNECT_TIMEOUT_SECONDS="1",
        HUREN_DB_POOL_SIZE="4",
        HUREN_RATE_LIMIT_PER_MINUTE="1000000",
        HUREN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE="1000000",
    )
    env["HUREN_DATABASE_URL"] = url.set(database=database).render_as_string(hide_password=False)
    loaded = run_huren(env, "demo")
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    log = folder / "serve.log"
    try:
        with serve(env, free_port(), log) as base:
            yield Node(base, env, database, admin_dsn, log)
    finally:
        asyncio.run(drop_database(admin_dsn, database))


async def recreate_database(admin_dsn: str, database: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()


async def drop_database(admin_dsn: str, database: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()


async def terminate_connections(node: Node) -> int:
    """Every connection to the node's database (the node's, whatever pool they belong to), none other."""
    admin = await asyncpg.connect(node.admin_dsn)
    try:
        ended: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            node.database,
        )
        return ended
    finally:
        await admin.close()


async def allow_connections(node: Node, allowed: bool) -> None:
    admin = await asyncpg.connect(node.admin_dsn)
    try:
        # Superusers too are refused while false (a connection limit would not stop them).
        await admin.execute(f'ALTER DATABASE "{node.database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def question(node: Node) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {fetch_token(node.url, 'demo-admin', 'demo-admin-secret')}"}
    page = httpx.get(
        f"{node.url}/v1/credentials", params={"kind": "title", "status": "active", "limit": 1}, headers=admin
    ).json()
    title = page["items"][0]
    return {
        "kind": "title",
        "region": title["region"],
        "number": title["number"],
        "name": title["holder"]["name"],
    }


@pytest.fixture(scope="module")
def verifier(node: Node) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(node.url, 'demo-hr-cq', 'demo-hr-cq-secret')}"}


async def ask(
    http: httpx.AsyncClient, node: Node, question: dict[str, Any], verifier: dict[str, str]
) -> Answer:
    request_id = secrets.token_hex(16)
    started = time.monotonic()
    try:
        answer = await http.post(
            f"{node.url}/v1/verify", json=question, headers={**verifier, "X-Request-ID": request_id}
        )
    except httpx.TransportError as exc:  # no answer at all (dropped, or past the bound): status 0
        return Answer(request_id, 0, "", None, type(exc).__name__, time.monotonic() - started)
    return Answer(
        request_id,
        answer.status_code,
        answer.headers.get("content-type", ""),
        answer.headers.get("retry-after"),
        answer.text,
        time.monotonic() - started,
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(timeout=ANSWER_BOUND_SECONDS, limits=limits) as client:
        yield client


def assert_each_answer_is_200_or_a_503_problem(answers: list[Answer]) -> None:
    by_status: dict[int, int] = {}
    for answer in answers:
        by_status[answer.status] = by_status.get(answer.status, 0) + 1
    assert set(by_status) <= {200, 503}, f"answers by status (0: none): {by_status}"
    for answer in answers:
        assert answer.seconds < ANSWER_BOUND_SECONDS
        if answer.status == 503:
            assert answer.content_type == "application/problem+json", answer
            assert int(answer.retry_after or 0) >= 1, answer
            assert "database-unavailable" in answer.body, answer
            assert "Traceback" not in answer.body
            assert "asyncpg" not in answer.body


async def wait_for_200(
    http: httpx.AsyncClient, node: Node, question: dict[str, Any], verifier: dict[str, str]
) -> Answer:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        answer = await ask(http, node, question, verifier)
        if answer.status == 200 or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.1)


async def audited_request_ids(node: Node) -> set[str]:
    admin = await asyncpg.connect(node.admin_dsn.rsplit("/", 1)[0] + f"/{node.database}")
    try:
        rows = await admin.fetch(
            "SELECT request_id FROM audit_events"
            " WHERE action = 'credential.verified' AND request_id IS NOT NULL"
        )
        return {row["request_id"] for row in rows}
    finally:
        await admin.close()


async def test_connections_terminated_under_load_give_503_never_500_and_no_200_without_audit(
    node: Node, question: dict[str, Any], verifier: dict[str, str], http: httpx.AsyncClient
) -> None:
    answers: list[Answer] = []
    stop = asyncio.Event()

    async def client() -> None:
        while not stop.is_set():
            answers.append(await ask(http, node, question, verifier))

    clients = [asyncio.create_task(client()) for _ in range(CLIENTS)]
    terminated = 0
    try:
        await asyncio.sleep(0.7)
        for _ in range(3):
            terminated += await terminate_connections(node)
            await asyncio.sleep(0.8)
    finally:
        stop.set()
        await asyncio.gather(*clients)
    assert terminated >= 3, "the node's connections should have been there to terminate"
    assert len(answers) > 3 * CLIENTS
    assert_each_answer_is_200_or_a_503_problem(answers)

    # Recovered without a restart.
    assert (await wait_for_200(http, node, question, verifier)).status == 200

    # No answer 200 (with its receipt) whose audit event is missing; the chain still verifies.
    answered = {answer.request_id for answer in answers if answer.status == 200}
    assert answered, "some verifications should have been answered"
    assert not answered - await audited_request_ids(node)
    verified = run_huren(node.env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]


async def test_readyz_and_verify_answer_503_while_the_database_refuses_then_200_again(
    node: Node, question: dict[str, Any], verifier: dict[str, str], http: httpx.AsyncClient
) -> None:
    assert (await http.get(f"{node.url}/readyz")).status_code == 200
    admin = {"Authorization": f"Bearer {fetch_token(node.url, 'demo-admin', 'demo-admin-secret')}"}
    await allow_connections(node, False)
    try:
        await terminate_connections(node)
        started = time.monotonic()
        ready = await http.get(f"{node.url}/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.headers["content-type"] == "application/problem+json"
        assert ready.headers.get("retry-after")
        assert time.monotonic() - started < ANSWER_BOUND_SECONDS
        during = [await ask(http, node, question, verifier) for _ in range(3)]
        assert {answer.status for answer in during} == {503}
        assert_each_answer_is_200_or_a_503_problem(during)
        # The routes served by FastAPI (a request session that commits after the handler), the token endpoint.
        token = await http.post(
            f"{node.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("demo-hr-cq", "demo-hr-cq-secret"),
        )
        listing = await http.get(f"{node.url}/v1/credentials", headers=admin)
        for answer in (token, listing):
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["retry-after"]
    finally:
        await allow_connections(node, True)
    deadline = time.monotonic() + RECOVERY_SECONDS
    while (await http.get(f"{node.url}/readyz")).status_code != 200:
        assert time.monotonic() < deadline, "the node should be ready again without a restart"
        await asyncio.sleep(0.1)
    assert (await wait_for_200(http, node, question, verifier)).status == 200


def test_the_server_log_tells_each_outage_in_a_line_without_a_traceback(node: Node) -> None:
    """After the outages above, the log names them ("database unavailable") and holds no traceback: an
    outage is an event an operator reads in one line, not a fault of the code."""
    log = node.log.read_text(errors="replace")
    assert "database unavailable" in log
    assert "Traceback" not in log, log[log.index("Traceback") - 500 :][:3000]
