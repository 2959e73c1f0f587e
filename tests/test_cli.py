"""The `huren` command as a newcomer runs it: real processes, a SQLite file, a real server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

HUREN = [sys.executable, "-m", "app.cli"]


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("cli")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUREN_")}
    env.update(HUREN_DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'cli.db'}", HUREN_ADMIN_TOKEN="cli-token")
    return env


def run_huren(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUREN, *args], env=env, capture_output=True, text=True, timeout=240, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo_output(cli_env: dict[str, str]) -> str:
    first = run_huren(cli_env, "demo")
    assert first.returncode == 0, first.stderr[-2000:]
    return first.stdout


def test_db_upgrade_is_repeatable(cli_env: dict[str, str]) -> None:
    for _ in range(2):
        result = run_huren(cli_env, "db", "upgrade")
        assert result.returncode == 0, result.stderr[-2000:]
        assert "database at head" in result.stdout


def test_demo_loads_once_and_prints_how_to_use_it(cli_env: dict[str, str], demo_output: str) -> None:
    assert "/docs" in demo_output
    assert "Bearer cli-token" in demo_output
    again = run_huren(cli_env, "demo")
    assert again.returncode == 0
    assert "│ created   │           0 │" in again.stdout


@pytest.fixture(scope="module")
def server(
    cli_env: dict[str, str], demo_output: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w")
    process = subprocess.Popen(
        [*HUREN, "serve", "--host", "127.0.0.1", "--port", str(port)], env=cli_env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"huren serve did not answer: {Path(log.name).read_text()[-2000:]}")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        log.close()


def test_serve_answers_with_the_demo_data(server: str) -> None:
    assert httpx.get(f"{server}/readyz").json() == {"status": "ready"}
    headers = {"Authorization": "Bearer cli-token"}
    page = httpx.get(
        f"{server}/v1/credentials", params={"kind": "card", "region": "CQ", "limit": 5}, headers=headers
    ).json()
    assert len(page["items"]) == 5
    first = page["items"][0]
    one = httpx.get(f"{server}/v1/credentials/card/CQ/{first['number']}", headers=headers)
    assert one.status_code == 200
    assert one.json()["holder"]["id_number_masked"].startswith("500")
    assert "********" in one.json()["holder"]["id_number_masked"]
    assert httpx.get(f"{server}/v1/credentials").status_code == 401
