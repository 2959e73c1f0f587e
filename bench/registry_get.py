"""Single-credential GET throughput of the app against a bare Starlette + asyncpg baseline, in one run.

    .venv/bin/python -m bench.registry_get --load          # (re)load 1,000,000 credentials first
    .venv/bin/python -m bench.registry_get                 # reuse the loaded database

Starts the app (as `huren serve` does: migrate + reference data, then uvicorn with the app factory) and the
baseline (bench/baseline_app.py) with the same uvicorn options, checks that both answer the same document,
warms both up, then runs wrk against them alternately (pair by pair, the order flipping each pair so drift
hits both) and reports medians and the app/baseline ratio. Both servers are stopped whatever happens.
Results: a JSON file in bench/out/ and a markdown table on stdout. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg

from bench.load_registry import (
    DEFAULT_DSN,
    DEFAULT_ROWS,
    count_credential,
    credential_path,
    load,
    sqlalchemy_url,
)

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
LUA = BENCH_DIR / "wrk_random_get.lua"
# For code from before OAuth clients, which checked one static admin token (HUREN_ADMIN_TOKEN).
STATIC_TOKEN = "bench-token"  # noqa: S105 - a benchmark-only token for servers bound to 127.0.0.1
UNLIMITED = 1_000_000_000  # rate limits: the benchmark measures throughput, not the limiter's refusals
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LATENCY_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class WrkResult:
    target: str
    pair: int
    requests: int
    requests_per_s: float
    latency_ms: dict[str, float]
    non_2xx: int
    socket_errors: dict[str, int]
    server_cpu_us_per_request: float
    postgres_cpu_us_per_request: float
    db_transactions_per_request: float
    db_tuples_written_per_request: float


@dataclass
class Server:
    name: str
    target: str
    port: int
    env: dict[str, str]
    log_path: Path
    options: list[str]
    # `python -m uvicorn` puts the working directory first on sys.path: the `app` package is taken from here.
    cwd: Path = REPO
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [sys.executable, "-m", "uvicorn", self.target, "--factory", "--host", "127.0.0.1"]
        argv += ["--port", str(self.port), *self.options]
        log = self.log_path.open("wb")
        # A session of its own: its CPU time can be summed over every worker, and it can be stopped alone.
        self.process = subprocess.Popen(
            argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def cpu_seconds(self) -> float:
        assert self.process is not None
        session = str(self.process.pid)
        return cpu_seconds(lambda fields: fields[3] == session)

    def main_pid(self) -> int:
        """The pid that serves requests: uvicorn's own with one worker, else its first child."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return int(children[0]) if children else self.process.pid


def proc_stats() -> list[tuple[str, list[str]]]:
    """(command name, fields after the name) of every process."""
    stats = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                raw = (entry / "stat").read_text()
                stats.append((raw[raw.index("(") + 1 : raw.rindex(")")], raw[raw.rindex(")") + 2 :].split()))
    return stats


def cpu_seconds(select: Callable[[list[str]], bool]) -> float:
    """User + system CPU seconds of the processes `select` picks (given /proc/PID/stat after the name)."""
    ticks = sum(int(f[11]) + int(f[12]) for _, f in proc_stats() if select(f))
    return ticks / CLOCK_TICKS


def postgres_cpu_seconds() -> float:
    """CPU seconds of every PostgreSQL process (backends, walwriter, …) on this machine."""
    ticks = sum(int(f[11]) + int(f[12]) for name, f in proc_stats() if name.startswith("postgres"))
    return ticks / CLOCK_TICKS


def fetch(
    url: str, token: str, timeout: float = 5.0, form: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """GET (or POST a form to) one of our own servers on 127.0.0.1."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(url)
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def obtain_token(app: Server, dsn: str) -> str:
    """An access token the way a real caller gets one: register an OAuth client, then POST /oauth/token.

    Code from before OAuth clients has no /oauth/token and checks one static admin token, HUREN_ADMIN_TOKEN,
    which the app was started with: then that is the token.
    """
    if fetch(app.url + "/oauth/token", "", form={})[0] == 404:
        return STATIC_TOKEN
    huren = Path(sys.executable).with_name("huren")
    argv = [str(huren), "clients", "create", "--name", "bench", "--region", "SC", "--scopes", "registry:read"]
    argv += ["--rate-limit", str(UNLIMITED), "--json"]
    env = os.environ | {"HUREN_DATABASE_URL": sqlalchemy_url(dsn)}
    created = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if created.returncode != 0:
        raise SystemExit(f"huren clients create failed: {created.stderr or created.stdout}")
    client = json.loads(created.stdout.strip().splitlines()[-1])
    form = {"grant_type": "client_credentials", "scope": "registry:read"}
    form |= {"client_id": client["client_id"], "client_secret": client["client_secret"]}
    status, body = fetch(app.url + "/oauth/token", "", form=form)
    if status != 200:
        raise SystemExit(f"POST /oauth/token answered {status}: {body[:300]!r}")
    return str(json.loads(body)["access_token"])


def wait_ready(server: Server, path: str, token: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited with {server.process.returncode}; see {server.log_path}")
        try:
            status, body = fetch(server.url + path, token, timeout=2)
            if status == 200:
                return
            last = f"HTTP {status}: {body[:200]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise SystemExit(f"{server.name} not ready after {timeout:.0f} s ({last}); see {server.log_path}")


def compare_answers(app: Server, baseline: Server, rows: int, token: str) -> list[int]:
    """Both servers must answer the same document, or the ratio compares different work."""
    sample = sorted({1, 2, 8, 9, 15, 16, 37, 74, rows // 3, rows})
    for i in sample:
        path = credential_path(i)
        got = {s.name: fetch(s.url + path, token) for s in (app, baseline)}
        (app_status, app_body), (base_status, base_body) = got[app.name], got[baseline.name]
        if app_status != 200 or base_status != 200:
            raise SystemExit(f"{path}: app {app_status}, baseline {base_status}")
        app_doc, base_doc = json.loads(app_body), json.loads(base_body)
        if app_doc != base_doc:
            diff = sorted(k for k in app_doc.keys() | base_doc.keys() if app_doc.get(k) != base_doc.get(k))
            raise SystemExit(f"{path}: app and baseline answers differ in {diff}: {app_doc} / {base_doc}")
    return sample


def parse_wrk(output: str) -> tuple[int, float, dict[str, float], int, dict[str, int]]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rps is None or total is None:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    latency = {
        f"p{m[1]}": float(m[2]) * LATENCY_UNITS[m[3]]
        for m in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True))
        if sockets
        else {}
    )
    return int(total[1]), float(rps[1]), latency, int(non_2xx[1]) if non_2xx else 0, errors


async def database_activity(dsn: str) -> dict[str, int]:
    """Cumulative transactions and written tuples of the benchmark database (pg_stat_database)."""
    conn = await asyncpg.connect(dsn)
    try:
        # Stats reach pg_stat_database up to a second late: wait that long after a run, then read fresh.
        await asyncio.sleep(1.1)
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        row = await conn.fetchrow(
            "SELECT xact_commit + xact_rollback AS transactions, tup_inserted + tup_updated + tup_deleted"
            " AS tuples_written FROM pg_stat_database WHERE datname = current_database()"
        )
        return {"transactions": int(row["transactions"]), "tuples_written": int(row["tuples_written"])}
    finally:
        await conn.close()


@dataclass
class Usage:
    server_cpu_s: float
    postgres_cpu_s: float
    transactions: int
    tuples_written: int


def run_wrk(server: Server, args: argparse.Namespace, duration: str, seed: int) -> tuple[str, Usage]:
    argv = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", duration, "--latency"]
    argv += ["--timeout", args.timeout]
    argv += ["-s", str(LUA), server.url, "--", str(args.rows), args.token, str(seed)]
    db_before = asyncio.run(database_activity(args.dsn))
    cpu_before, pg_before = server.cpu_seconds(), postgres_cpu_seconds()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    cpu_after, pg_after = server.cpu_seconds(), postgres_cpu_seconds()
    db_after = asyncio.run(database_activity(args.dsn))
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr}")
    # The two stats reads are one transaction each, counted in the `after` figure: take them out.
    usage = Usage(
        server_cpu_s=cpu_after - cpu_before,
        postgres_cpu_s=pg_after - pg_before,
        transactions=db_after["transactions"] - db_before["transactions"] - 1,
        tuples_written=db_after["tuples_written"] - db_before["tuples_written"],
    )
    return done.stdout, usage


def measure(server: Server, args: argparse.Namespace, pair: int, seed: int) -> WrkResult:
    output, usage = run_wrk(server, args, args.duration, seed)
    requests, rps, latency, non_2xx, errors = parse_wrk(output)
    (args.out / f"wrk-{args.stamp}-{server.name}-{pair}.txt").write_text(output)
    if non_2xx:
        raise SystemExit(
            f"{server.name}, pair {pair}: {non_2xx} non-2xx answers; see the wrk output in {args.out}"
        )
    if any(errors.values()):
        print(f"warning: {server.name}, pair {pair}: socket errors {errors}", flush=True)
    return WrkResult(
        target=server.name,
        pair=pair,
        requests=requests,
        requests_per_s=rps,
        latency_ms=latency,
        non_2xx=non_2xx,
        socket_errors=errors,
        server_cpu_us_per_request=usage.server_cpu_s / requests * 1e6,
        postgres_cpu_us_per_request=usage.postgres_cpu_s / requests * 1e6,
        db_transactions_per_request=usage.transactions / requests,
        db_tuples_written_per_request=usage.tuples_written / requests,
    )


def profile_app(app: Server, args: argparse.Namespace) -> dict[str, Any]:
    """py-spy samples the app worker under wrk load; returns the heaviest functions and files."""
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    raw = args.out / f"app-profile-{args.stamp}.txt"
    seconds = 10
    argv = [str(py_spy), "record", "-p", str(app.main_pid()), "-d", str(seconds), "-r", "200"]
    spy = subprocess.Popen(
        [*argv, "--nolineno", "-f", "raw", "-o", str(raw)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        run_wrk(app, args, f"{seconds}s", seed=999)
    finally:
        spy.wait(timeout=60)
    return summarise_profile(raw.read_text())


def frame_area(frame: str) -> str:
    """Group a py-spy frame `function (path)` into the library or app module it belongs to."""
    path = frame[frame.rfind("(") + 1 : -1] if frame.endswith(")") else frame
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    parts = path.removesuffix(".py").split("/")
    if (
        parts[0] in ("sqlalchemy", "fastapi", "starlette", "pydantic", "uvicorn", "asyncio")
        and len(parts) > 1
    ):
        return "/".join(parts[:2])
    return parts[0] if parts[0] != "app" else "/".join(parts[:2])


def summarise_profile(raw: str, top: int = 60) -> dict[str, Any]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    own_area: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
        own_area[frame_area(frames[-1])] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "inclusive_percent": share(inclusive),
        "self_percent": share(own),
        "self_percent_by_area": share(own_area),
    }


def environment(args: argparse.Namespace, pg_version: str) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    mem = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "app"], cwd=REPO, capture_output=True, text=True)
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    packages = ["fastapi", "starlette", "sqlalchemy", "pydantic", "asyncpg", "uvicorn", "uvloop", "httptools"]
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join([Path(sys.executable).name, "-m", "bench.registry_get", *sys.argv[1:]]),
        "nproc": os.cpu_count(),
        "cpu": model[1].strip() if model else platform.processor(),
        "memory_gib": round(int(mem[1]) / 2**20, 1) if mem else None,
        "load_average_at_start": os.getloadavg(),
        "postgresql": pg_version,
        "python": platform.python_version(),
        "packages": {name: metadata.version(name) for name in packages},
        "wrk": (wrk.stdout or wrk.stderr).split("Copyright")[0].strip(),
        "git_head": git.stdout.strip(),
        "app_dirty": bool(dirty.stdout.strip()),
        "settings": {k: str(v) for k, v in vars(args).items() if k not in ("token", "stamp")},
    }


async def database_facts(dsn: str, rows: int) -> tuple[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        if await count_credential(conn, rows) != 1:
            raise SystemExit(f"the database holds fewer than {rows:,} bench credentials: run with --load")
        total = await conn.fetchval("SELECT count(*) FROM credentials")
        return str(await conn.fetchval("SHOW server_version")), int(total)
    finally:
        await conn.close()


def prepare_like_serve(dsn: str) -> None:
    """`huren serve` migrates and adds missing reference rows before it serves: do the same."""
    from app.bootstrap import prepare_database
    from app.settings import Settings

    asyncio.run(prepare_database(Settings(database_url=sqlalchemy_url(dsn))))


def summarise(results: list[WrkResult]) -> dict[str, Any]:
    by = {t: [r for r in results if r.target == t] for t in ("baseline", "app")}
    pairs = sorted({r.pair for r in results})
    ratios = [
        next(r for r in by["app"] if r.pair == p).requests_per_s
        / next(r for r in by["baseline"] if r.pair == p).requests_per_s
        for p in pairs
    ]

    def medians(rs: list[WrkResult]) -> dict[str, float]:
        return {
            "requests_per_s": statistics.median(r.requests_per_s for r in rs),
            **{k: statistics.median(r.latency_ms[k] for r in rs) for k in rs[0].latency_ms},
            "server_cpu_us_per_request": statistics.median(r.server_cpu_us_per_request for r in rs),
            "postgres_cpu_us_per_request": statistics.median(r.postgres_cpu_us_per_request for r in rs),
            "db_transactions_per_request": statistics.median(r.db_transactions_per_request for r in rs),
            "db_tuples_written_per_request": statistics.median(r.db_tuples_written_per_request for r in rs),
        }

    return {
        "baseline": medians(by["baseline"]),
        "app": medians(by["app"]),
        "ratio_per_pair": [round(r, 4) for r in ratios],
        "ratio_median": statistics.median(ratios),
        "ratio_of_medians": medians(by["app"])["requests_per_s"] / medians(by["baseline"])["requests_per_s"],
    }


def markdown(results: list[WrkResult], summary: dict[str, Any]) -> str:
    lines = [
        "| pair | order | baseline req/s | app req/s | app/baseline | baseline p50 / p99 ms"
        " | app p50 / p99 ms | baseline CPU µs/req | app CPU µs/req | PG CPU µs/req (b / a)"
        " | DB xacts/req (b / a) | socket errors (b / a) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    pairs = sorted({r.pair for r in results})
    for p, ratio in zip(pairs, summary["ratio_per_pair"], strict=True):
        b = next(r for r in results if r.pair == p and r.target == "baseline")
        a = next(r for r in results if r.pair == p and r.target == "app")
        first = next(r.target for r in results if r.pair == p)
        lines.append(
            f"| {p} | {first} first | {b.requests_per_s:,.0f} | {a.requests_per_s:,.0f} | {ratio:.3f}"
            f" | {b.latency_ms['p50']:.2f} / {b.latency_ms['p99']:.2f}"
            f" | {a.latency_ms['p50']:.2f} / {a.latency_ms['p99']:.2f}"
            f" | {b.server_cpu_us_per_request:.0f} | {a.server_cpu_us_per_request:.0f}"
            f" | {b.postgres_cpu_us_per_request:.0f} / {a.postgres_cpu_us_per_request:.0f}"
            f" | {b.db_transactions_per_request:.2f} / {a.db_transactions_per_request:.2f}"
            f" | {sum(b.socket_errors.values())} / {sum(a.socket_errors.values())} |"
        )
    b, a = summary["baseline"], summary["app"]
    lines.append(
        f"| **median** | | **{b['requests_per_s']:,.0f}** | **{a['requests_per_s']:,.0f}**"
        f" | **{summary['ratio_median']:.3f}** | {b['p50']:.2f} / {b['p99']:.2f}"
        f" | {a['p50']:.2f} / {a['p99']:.2f}"
        f" | {b['server_cpu_us_per_request']:.0f} | {a['server_cpu_us_per_request']:.0f}"
        f" | {b['postgres_cpu_us_per_request']:.0f} / {a['postgres_cpu_us_per_request']:.0f}"
        f" | {b['db_transactions_per_request']:.2f} / {a['db_transactions_per_request']:.2f} | |"
    )
    return "\n".join(lines)


def server_options(workers: int, loop: str = "uvloop", http: str = "httptools") -> list[str]:
    """uvicorn options for both servers of a run."""
    options = ["--workers", str(workers), "--loop", loop, "--http", http]
    # `huren serve` passes proxy_headers=False and server_header=False to uvicorn: so do both servers here.
    return [*options, "--log-level", "warning", "--no-access-log", "--no-proxy-headers", "--no-server-header"]


def clean_environment() -> dict[str, str]:
    """This process's environment without settings of ours that would leak into a server."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("HUREN_", "BENCH_"))}


def app_environment(dsn: str) -> dict[str, str]:
    """The app as `huren serve` would run it on the benchmark database: one token for the whole run, and no
    429s (the limiter's bookkeeping still runs)."""
    return clean_environment() | {
        "HUREN_DATABASE_URL": sqlalchemy_url(dsn),
        "HUREN_LOG_LEVEL": "warning",
        "HUREN_ACCESS_TOKEN_TTL_SECONDS": "3600",
        "HUREN_RATE_LIMIT_PER_MINUTE": str(UNLIMITED),
        "HUREN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": str(UNLIMITED),
    }


def run_pairs(
    app: Server,
    baseline: Server,
    runs: int,
    measure_one: Callable[[Server, int], WrkResult],
    detail: Callable[[WrkResult], str],
) -> list[WrkResult]:
    """`runs` measured pairs, the order flipping every pair (baseline first in odd ones), a line each."""
    results: list[WrkResult] = []
    for pair in range(1, runs + 1):
        for server in (baseline, app) if pair % 2 else (app, baseline):
            result = measure_one(server, pair)
            results.append(result)
            print(
                f"pair {pair} {server.name:>8}: {result.requests_per_s:9,.1f} req/s"
                f"  p50 {result.latency_ms['p50']:.2f} ms  p99 {result.latency_ms['p99']:.2f} ms"
                f"  server CPU {result.server_cpu_us_per_request:.0f} µs/req  {detail(result)}",
                flush=True,
            )
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--load", action="store_true", help="drop, create and load the database first")
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="libpq URL of the benchmark database")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="credentials loaded (and requested)")
    parser.add_argument("--runs", type=int, default=5, help="baseline/app pairs")
    parser.add_argument("--duration", default="10s", help="wrk -d of each measured run")
    parser.add_argument("--warmup", default="5s", help="wrk -d of the unmeasured warm-up of each server")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t")
    parser.add_argument("--timeout", default="10s", help="wrk --timeout: slower answers count as errors")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of each server")
    parser.add_argument("--loop", default="uvloop", help="uvicorn --loop of both servers")
    parser.add_argument("--http", default="httptools", help="uvicorn --http of both servers")
    parser.add_argument("--app-port", type=int, default=8101)
    parser.add_argument("--baseline-port", type=int, default=8102)
    parser.add_argument(
        "--app-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the app, e.g. HUREN_REDIS_URL=redis://127.0.0.1:6379/15 (repeatable)",
    )
    parser.add_argument(
        "--app-source",
        type=Path,
        help="serve the app package from this tree (e.g. a `git archive` of another commit) instead of the"
        " working tree; the database is then not migrated by it",
    )
    parser.add_argument("--profile", action="store_true", help="then sample the app with py-spy under load")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="where results are written")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # SIGTERM unwinds like Ctrl-C, so the `finally` below still stops both servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.out.mkdir(parents=True, exist_ok=True)
    args.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    load_seconds = None
    if args.load:
        print(f"loading {args.rows:,} credentials …", flush=True)
        load_seconds = asyncio.run(load(args.dsn, args.rows, per_holder=2))
        print(f"loaded in {load_seconds:.1f} s", flush=True)
    pg_version, total = asyncio.run(database_facts(args.dsn, args.rows))
    if args.app_source is None:
        prepare_like_serve(args.dsn)
    env = environment(args, pg_version)

    options = server_options(args.workers, args.loop, args.http)
    app = Server(
        "app",
        "app.main:create_app",
        args.app_port,
        app_environment(args.dsn)
        | {"HUREN_ADMIN_TOKEN": STATIC_TOKEN}
        | dict(item.split("=", 1) for item in args.app_env),
        args.out / "app.log",
        options,
        cwd=args.app_source.resolve() if args.app_source else REPO,
    )
    baseline = Server(
        "baseline",
        "bench.baseline_app:create_app",
        args.baseline_port,
        clean_environment() | {"BENCH_DSN": args.dsn},
        args.out / "baseline.log",
        options,
    )
    results: list[WrkResult] = []
    profile: dict[str, Any] | None = None
    try:
        app.start()
        wait_ready(app, "/healthz", token="")
        args.token = obtain_token(app, args.dsn)
        # The baseline compares the Authorization header with the very token wrk sends.
        baseline.env["BENCH_TOKEN"] = args.token
        baseline.start()
        for server in (baseline, app):
            wait_ready(server, credential_path(1), args.token)
        compared = compare_answers(app, baseline, args.rows, args.token)
        print(f"app and baseline answer the same documents for rows {compared}", flush=True)
        for server in (baseline, app):
            run_wrk(server, args, args.warmup, seed=0)
        results = run_pairs(
            app,
            baseline,
            args.runs,
            lambda server, pair: measure(server, args, pair, seed=pair),
            lambda result: f"db xacts/req {result.db_transactions_per_request:.2f}",
        )
        if args.profile:
            profile = profile_app(app, args)
    finally:
        for server in (app, baseline):
            server.stop()

    summary = summarise(results)
    path = args.out / f"registry_get-{args.stamp}.json"
    document = {
        "benchmark": "registry_get",
        "environment": env,
        "credentials_in_database": total,
        "load_seconds": load_seconds,
        "results": [asdict(r) for r in results],
        "summary": summary,
        "profile": profile,
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print()
    print(markdown(results, summary))
    print(
        f"\nmedian ratio app/baseline {summary['ratio_median']:.3f}"
        f" (ratio of medians {summary['ratio_of_medians']:.3f}); results in {path.relative_to(REPO)}"
    )
    if profile:
        print("\napp profile, self time by area (% of busy samples):")
        for name, pct in profile["self_percent_by_area"][:15]:
            print(f"  {pct:5.1f} %  {name}")


if __name__ == "__main__":
    main()
