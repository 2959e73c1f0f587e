"""Redis goes away under load (issue 18): a real `redis-server` of the test's own, killed (SIGKILL) or frozen
(SIGSTOP) while a real `huren serve` answers verifications with rate limits counted in it.

What must hold: no 500 and no hang; the limits still hold, each worker allowing its share (limit / workers)
while Redis is gone; the `huren_ratelimit_fallback` gauge and one log line per worker say so; and once Redis
is back the workers count in it again within a few seconds.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from tests.processes import fetch_token, free_port, huren_env, run_huren, serve

pytestmark = pytest.mark.slow

REDIS_SERVER = "/usr/bin/redis-server"
LIMIT = 20  # requests a minute for each test client
WORKERS = 2
PROBE_SECONDS = 1.0
TIMEOUT_SECONDS = 0.5
SLACK_SECONDS = 1.5  # a loaded CI machine; before the fix a request waited 5 s (redis-py's default), then 500
FALLBACK_LINE = re.compile(r"rate limits: the shared counter does not answer .* process (\d+) counts alone")
RETURN_LINE = re.compile(r"rate limits: the shared counter answers again; process (\d+)")
QUESTION = {"kind": "title", "region": "SC", "number": "x", "name": "张三"}


class RedisServer:
    """A redis-server on a free port, no persistence: the test may kill, freeze and restart it."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = free_port(), folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        with (self.folder / "redis.log").open("a") as log:
            self.process = subprocess.Popen([*argv, "--dir", str(self.folder)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def signal(self, signum: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen one must be able to die
            self.process.kill()
            self.process.wait(timeout=10)

    def hits(self, client_id: str) -> int:
        """The hits Redis holds for the client's verify budget, over all windows."""
        store = self.client()
        return sum(int(store.get(name) or 0) for name in store.keys(f"huren:rl:client:{client_id}:verify:*"))


@dataclass
class Node:
    env: dict[str, str]
    clients: dict[str, tuple[str, str]]  # name -> (client_id, secret)
    log: Path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[str, str]]]:
    """A migrated SQLite database with the test's clients: one for background traffic (no practical limit),
    the others with a budget of LIMIT verifications a minute."""
    folder = tmp_path_factory.mktemp("redisfault")
    env = huren_env(folder / "node.db")
    clients: dict[str, tuple[str, str]] = {}
    for name in ("traffic", "healthy", "alone", "back", "frozen", "monitor"):
        limit = "1000000" if name == "traffic" else str(LIMIT)
        scopes = "metrics" if name == "monitor" else "verify"
        made = run_huren(
            env, "clients", "create", "--name", name, "--region", "SC", "--scopes", scopes,
            "--rate-limit", limit, "--json",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr[-2000:]
        answer = json.loads(made.stdout.strip().splitlines()[-1])
        clients[name] = (answer["client_id"], answer["client_secret"])
    return folder, clients


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def node(
    prepared: tuple[Path, dict[str, tuple[str, str]]], redis_server: RedisServer, tmp_path: Path
) -> Node:
    folder, clients = prepared
    env = huren_env(
        folder / "node.db",
        HUREN_REDIS_URL=redis_server.url,
        HUREN_REDIS_PROBE_SECONDS=str(PROBE_SECONDS),
        HUREN_REDIS_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        HUREN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE="10000000",
    )
    return Node(env, clients, tmp_path / "node.log")


def token(base: str, node: Node, name: str) -> dict[str, str]:
    client_id, secret = node.clients[name]
    return {"Authorization": f"Bearer {fetch_token(base, client_id, secret)}"}


def wait_for_window_room(seconds: float = 8.0) -> None:
    """Budgets are per fixed minute: a burst must not straddle two windows, or it gets two budgets."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.1)


def burst(base: str, headers: dict[str, str], count: int) -> list[httpx.Response]:
    """`count` verifications, each on a connection of its own, so that the kernel spreads them over the
    workers (one kept-alive connection would stay with one)."""
    wait_for_window_room()
    return [httpx.post(f"{base}/v1/verify", json=QUESTION, headers=headers, timeout=10) for _ in range(count)]


def fallback_gauges(base: str, headers: dict[str, str], scrapes: int = 12) -> set[float]:
    """The values of huren_ratelimit_fallback seen in `scrapes` scrapes (each may reach either worker)."""
    seen: set[float] = set()
    for _ in range(scrapes):
        text = httpx.get(f"{base}/metrics", headers=headers, timeout=5).text
        seen.update(float(v) for v in re.findall(r"^huren_ratelimit_fallback ([0-9.e+]+)$", text, re.M))
    return seen


def pids(pattern: re.Pattern[str], log: Path) -> list[str]:
    return pattern.findall(log.read_text())


@dataclass
class Traffic:
    """Verifications from a few concurrent clients until stopped: every status and every failed connection."""

    base: str
    headers: dict[str, str]
    threads: int = 4
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0
    stopping: threading.Event = field(default_factory=threading.Event)
    workers: list[threading.Thread] = field(default_factory=list)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=10) as client:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    status = client.post("/v1/verify", json=QUESTION).status_code
                except httpx.TransportError as exc:
                    self.failures.append(type(exc).__name__)
                    continue
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.statuses[status] += 1
                time.sleep(0.01)

    def __enter__(self) -> Traffic:
        self.workers = [threading.Thread(target=self.run) for _ in range(self.threads)]
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for worker in self.workers:
            worker.join(timeout=30)


def wait_until_back(base: str, node: Node, headers: dict[str, str], fell_back: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while len(pids(RETURN_LINE, node.log)) < fell_back:
        assert time.monotonic() < deadline, node.log.read_text()[-3000:]
        httpx.post(f"{base}/v1/verify", json=QUESTION, headers=headers, timeout=10)
        time.sleep(0.05)


def test_killed_redis_falls_back_to_per_worker_budgets_and_returns(
    node: Node, redis_server: RedisServer
) -> None:
    with serve(node.env, free_port(), node.log, workers=WORKERS) as base:
        heads = {name: token(base, node, name) for name in ("traffic", "healthy", "alone", "back", "monitor")}
        with Traffic(base, heads["traffic"]) as traffic:
            # Redis healthy: the budget is shared, and exact.
            healthy = burst(base, heads["healthy"], LIMIT + 10)
            assert [r.status_code for r in healthy].count(200) == LIMIT
            assert redis_server.hits(node.clients["healthy"][0]) >= LIMIT
            assert fallback_gauges(base, heads["monitor"], 4) == {0.0}

            redis_server.kill()
            time.sleep(1)  # traffic meets the dead Redis
            alone = burst(base, heads["alone"], 3 * LIMIT)
            statuses = Counter(r.status_code for r in alone)
            assert set(statuses) == {200, 429}, statuses
            # Each worker allows LIMIT / WORKERS: together at most LIMIT, one worker alone at least its share.
            assert LIMIT // WORKERS <= statuses[200] <= LIMIT, statuses
            refused = [r for r in alone if r.status_code == 429]
            assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in refused)
            assert refused[0].json()["type"] == "/problems/rate-limited"
            assert 1.0 in fallback_gauges(base, heads["monitor"])
            fell_back = pids(FALLBACK_LINE, node.log)
            assert 1 <= len(fell_back) <= WORKERS, fell_back
            assert len(set(fell_back)) == len(fell_back), fell_back  # one line per worker

            redis_server.start()  # same port, empty
            wait_until_back(base, node, heads["traffic"], len(fell_back), seconds=PROBE_SECONDS + 5)
            back = burst(base, heads["back"], LIMIT + 10)
            assert [r.status_code for r in back].count(200) == LIMIT
            assert redis_server.hits(node.clients["back"][0]) >= LIMIT
            assert fallback_gauges(base, heads["monitor"]) == {0.0}
        # One line per worker each way, not one per request.
        assert len(pids(FALLBACK_LINE, node.log)) == len(fell_back)
        assert sorted(pids(RETURN_LINE, node.log)) == sorted(fell_back)
    assert traffic.statuses[200] > 100, traffic.statuses
    assert set(traffic.statuses) == {200}, traffic.statuses
    assert traffic.failures == []


def test_a_frozen_redis_costs_a_request_at_most_its_time_out(node: Node, redis_server: RedisServer) -> None:
    with serve(node.env, free_port(), node.log, workers=1) as base:
        heads = {name: token(base, node, name) for name in ("traffic", "frozen", "monitor")}
        assert httpx.post(f"{base}/v1/verify", json=QUESTION, headers=heads["frozen"]).status_code == 200
        redis_server.signal(signal.SIGSTOP)  # accepts connections, never answers
        try:
            with Traffic(base, heads["traffic"], threads=2) as traffic:
                wait_for_window_room()
                timings: list[tuple[int, float]] = []
                until = time.monotonic() + 3 * PROBE_SECONDS  # long enough to meet probes of the frozen Redis
                while time.monotonic() < until:
                    started = time.monotonic()
                    status = httpx.post(
                        f"{base}/v1/verify", json=QUESTION, headers=heads["frozen"]
                    ).status_code
                    timings.append((status, time.monotonic() - started))
                    time.sleep(0.1)
                assert fallback_gauges(base, heads["monitor"], 1) == {1.0}
            assert {status for status, _ in timings} <= {200, 429}, timings
            assert max(seconds for _, seconds in timings) < TIMEOUT_SECONDS + SLACK_SECONDS, timings
            assert 200 in {status for status, _ in timings}
            assert traffic.failures == []
            assert set(traffic.statuses) == {200}, traffic.statuses
            assert traffic.slowest < TIMEOUT_SECONDS + SLACK_SECONDS
        finally:
            redis_server.signal(signal.SIGCONT)
        wait_until_back(base, node, heads["traffic"], 1, seconds=PROBE_SECONDS + 5)
        assert fallback_gauges(base, heads["monitor"], 1) == {0.0}
        assert len(pids(FALLBACK_LINE, node.log)) == 1
