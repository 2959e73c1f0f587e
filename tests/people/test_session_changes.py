"""Workers keep what they read of a session between requests only while they hear every change (PostgreSQL
LISTEN/NOTIFY): with two real `huren serve` workers, a sign-out, `huren staff disable` and a factor reset
still end a session at the very next request, whichever worker answers it."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.processes import free_port, huren_env, run_huren, serve

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("HUREN_TEST_DATABASE_URL"), reason="LISTEN/NOTIFY is PostgreSQL's"),
]
REQUESTS = 24  # enough for both workers to have answered, and kept, the session


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    url = make_url(os.environ["HUREN_TEST_DATABASE_URL"])
    name = f"{url.database}_session_changes"
    admin_dsn = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    run_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    folder = tmp_path_factory.mktemp("session-changes")
    port = free_port()
    env = huren_env(
        folder / "unused.db",
        HUREN_PUBLIC_URL=f"http://127.0.0.1:{port}",
        HUREN_TOTP_ROLES=json.dumps(["admin"]),  # clerks sign in with a password alone here
        HUREN_TOKEN_RATE_LIMIT_PER_MINUTE="1000",
    )
    env["HUREN_DATABASE_URL"] = url.set(database=name).render_as_string(hide_password=False)
    try:
        assert run_huren(env, "db", "upgrade").returncode == 0
        with serve(env, port, folder / "serve.log", workers=2) as base:
            yield base, env
    finally:
        run_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_sql(dsn: str, *statements: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def signed_in(base: str, env: dict[str, str], username: str) -> tuple[str, str]:
    """A new clerk, signed in: the cookie's value and the CSRF token."""
    created = run_huren(
        env,
        "staff",
        "create",
        "--username",
        username,
        "--display-name",
        username,
        "--regions",
        "CQ",
        "--roles",
        "clerk",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    password = json.loads(created.stdout)["password"]
    answer = httpx.post(f"{base}/v1/session", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return answer.cookies["huren_session"], answer.json()["csrf_token"]


def statuses(base: str, cookie: str) -> set[int]:
    """What /v1/session answers on fresh connections (spread over both workers)."""
    return {
        httpx.get(f"{base}/v1/session", cookies={"huren_session": cookie}).status_code
        for _ in range(REQUESTS)
    }


def test_a_disabled_person_is_refused_by_every_worker_at_once(
    two_workers: tuple[str, dict[str, str]],
) -> None:
    base, env = two_workers
    cookie, _ = signed_in(base, env, "kept.clerk")
    assert statuses(base, cookie) == {200}
    assert run_huren(env, "staff", "disable", "kept.clerk").returncode == 0
    assert statuses(base, cookie) == {401}


def test_a_sign_out_and_a_factor_reset_end_the_session_on_every_worker(
    two_workers: tuple[str, dict[str, str]],
) -> None:
    base, env = two_workers
    cookie, csrf = signed_in(base, env, "out.clerk")
    assert statuses(base, cookie) == {200}
    out = httpx.delete(
        f"{base}/v1/session", cookies={"huren_session": cookie}, headers={"X-CSRF-Token": csrf}
    )
    assert out.status_code == 204
    assert statuses(base, cookie) == {401}

    cookie, _ = signed_in(base, env, "reset.clerk")
    assert statuses(base, cookie) == {200}
    assert run_huren(env, "staff", "reset-factor", "reset.clerk").returncode == 0
    assert statuses(base, cookie) == {401}
