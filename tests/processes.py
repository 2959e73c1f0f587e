"""Real `huren` processes for tests: the command line, and `huren serve` on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HUREN = [sys.executable, "-m", "app.cli"]


def huren_env(database: Path, **settings: str) -> dict[str, str]:
    """The environment of a fresh node: our settings only (none inherited), a SQLite file of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUREN_")}
    env.update(HUREN_DATABASE_URL=f"sqlite+aiosqlite:///{database}", COLUMNS="200", **settings)
    return env


def run_huren(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUREN, *args], env=env, capture_output=True, text=True, timeout=240, check=False)


def demo_passwords(output: str) -> dict[str, str]:
    """The demo people's one-time passwords, as `huren demo` prints them: {"demo.clerk": "…", …}."""
    return dict(re.findall(r"user (demo\.[a-z]+)\s+password (\S+)", output))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerFailed(RuntimeError):
    pass


@contextmanager
def serve(
    env: dict[str, str], port: int, log_path: Path, timeout: float = 30.0, workers: int = 1
) -> Iterator[str]:
    """Run `huren serve` until the block ends; yields its base URL once /healthz answers."""
    with log_path.open("w") as log:
        command = [*HUREN, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base, process, log_path, timeout)
            yield base
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, as a supervisor stops a server; SIGKILL if it has not exited within `timeout` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_healthy(base: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"huren serve exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise ServerFailed(f"huren serve did not answer: {log_path.read_text()[-2000:]}")


def fetch_token(server: str, client_id: str, secret: str, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    answer = httpx.post(f"{server}/oauth/token", data=data, auth=(client_id, secret))
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


class Process:
    """A server process that a test can stop and start again (same command, environment and log)."""

    def __init__(
        self, argv: list[str], env: dict[str, str], port: int, log_path: Path, cwd: Path | None = None
    ):
        self.argv, self.env, self.port, self.log_path, self.cwd = argv, env, port, log_path, cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=log, cwd=self.cwd)
        wait_healthy(self.url, self.process, self.log_path, timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        stop_process(self.process)


def huren_server(env: dict[str, str], port: int, log_path: Path) -> Process:
    return Process([*HUREN, "serve", "--host", "127.0.0.1", "--port", str(port)], env, port, log_path)
