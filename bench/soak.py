"""Soak: mixed traffic at half the measured maximum for 30 minutes on PostgreSQL with two workers.

    .venv/bin/python -m bench.soak                  # loads 1,000,000 credentials into huren_soak, then soaks
    .venv/bin/python -m bench.soak --minutes 10     # a shorter soak (the windows stay 5 minutes)

What runs: the real `huren serve --workers 2` on a PostgreSQL registry, with Redis rate limits (budgets it
never reaches: the limiter's round trips still happen). wrk (bench/wrk_soak.lua) sends a fixed mix:

| group | share | request |
|---|---:|---|
| verify | 55 % | `POST /v1/verify` (80 % matching holders, 10 % unknown numbers, 10 % another name) |
| batch | 5 % | `POST /v1/verify/batch` of 10 items |
| card token | 15 % | `POST /v1/verify/card-token` with tokens issued at the start |
| registry read | 20 % | `GET /v1/credentials/{kind}/{region}/{number}` |
| status change | 5 % | `POST …/status` of titles and cards: each suspended, then reinstated |

and in the middle of every 5-minute window an import of 5,000 title rows (`POST /v1/imports`, mode commit),
run by a worker as a background job. First the maximum of that mix is measured (closed loop, 32
connections, `--max-seconds`), then the soak holds `--fraction` (½) of it: the wrk script gives each request
the next slot of a fixed schedule (1/rate apart, off the monotonic clock), so the rate stays the target
whether the server answers faster or slower.

It passes when, over the whole soak: no 5xx and no socket error, the p99 of the last 5-minute window is within
20 % of the first's, each worker's resident memory grew less than 10 % (from the soak's start, after the
warm-up, the maximum and a minute at the target, to its end), the same workers served throughout, every import
finished, and `huren audit verify` passes. The figures go to bench/out/soak-<UTC time>.json and a markdown
table is printed for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.import_rows import write_csv
from bench.load_registry import load, sqlalchemy_url
from bench.registry_get import (
    BENCH_DIR,
    REPO,
    UNLIMITED,
    clean_environment,
    environment,
    parse_wrk,
)
from bench.verify import sample_credentials, write_bodies

LUA = BENCH_DIR / "wrk_soak.lua"
PORT = 8131
WRITER_SCOPES = "registry:read registry:write cards:issue admin audit:read"
CARD_SQL = """
SELECT region_code, number FROM credentials
WHERE kind = 'card' AND status = 'active' AND (valid_until IS NULL OR valid_until > current_date + 30)
ORDER BY id LIMIT $1
"""
# Titles and cards alike (a card's change also moves its region's status lists), never the cards whose
# tokens the soak checks: those are the lowest ids, these the highest. Not lapsed cards: an expired card
# cannot be suspended (409), which is right, but not the traffic meant here.
STATUS_SQL = """
(SELECT kind, region_code, number FROM credentials
 WHERE kind = 'title' AND status = 'active' ORDER BY id DESC LIMIT $1)
UNION ALL
(SELECT kind, region_code, number FROM credentials
 WHERE kind = 'card' AND status = 'active' AND (valid_until IS NULL OR valid_until > current_date + 30)
 ORDER BY id DESC LIMIT $1)
"""
READ_SQL = """
SELECT kind, region_code, number FROM credentials WHERE id = ANY($1::bigint[])
"""


@dataclass
class Window:
    """One wrk run of the soak (5 minutes), with what the import and the workers did during it."""

    index: int
    requests: int
    requests_per_s: float
    latency_ms: dict[str, float]
    answers: dict[str, int]
    socket_errors: dict[str, int]
    worker_rss_mb: dict[str, float]
    imports: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Clients:
    verify_token: str
    writer_token: str
    verify_credentials: dict[str, str]
    writer_credentials: dict[str, str]


def run_huren(dsn: str, *argv: str) -> str:
    env = clean_environment() | {"HUREN_DATABASE_URL": sqlalchemy_url(dsn)}
    huren = str(Path(sys.executable).with_name("huren"))
    done = subprocess.run([huren, *argv], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"huren {' '.join(argv[:2])} failed: {done.stderr[-2000:] or done.stdout[-2000:]}")
    return done.stdout


def create_client(dsn: str, name: str, region: str, scopes: str) -> dict[str, str]:
    out = run_huren(
        dsn, "clients", "create", "--name", name, "--region", region, "--scopes", scopes, "--json",
        "--rate-limit", str(UNLIMITED),
    )  # fmt: skip
    created: dict[str, str] = json.loads(out.strip().splitlines()[-1])
    return created


def obtain_token(url: str, client: dict[str, str], scopes: str) -> str:
    form = {"grant_type": "client_credentials", "scope": scopes}
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    answer = httpx.post(f"{url}/oauth/token", data=form, headers={"Authorization": f"Basic {basic}"})
    if answer.status_code != 200:
        raise SystemExit(f"POST /oauth/token answered {answer.status_code}: {answer.text[:300]}")
    return str(answer.json()["access_token"])


def refresh_tokens(url: str, clients: Clients) -> None:
    """Fresh tokens before each window: a token lasts an hour at most, the whole run longer."""
    clients.verify_token = obtain_token(url, clients.verify_credentials, "verify")
    clients.writer_token = obtain_token(url, clients.writer_credentials, WRITER_SCOPES)


def start_server(dsn: str, out: Path) -> subprocess.Popen[bytes]:
    env = clean_environment() | {
        "HUREN_DATABASE_URL": sqlalchemy_url(dsn),
        "HUREN_REDIS_URL": "redis://127.0.0.1:6379/13",
        "HUREN_LOG_LEVEL": "warning",
        "HUREN_ACCESS_TOKEN_TTL_SECONDS": "3600",
        "HUREN_RATE_LIMIT_PER_MINUTE": str(UNLIMITED),
        "HUREN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": str(UNLIMITED),
        "HUREN_IMPORT_DIR": str(out / "soak-imports"),
        "HUREN_PUBLIC_URL": f"http://127.0.0.1:{PORT}",
    }
    huren = str(Path(sys.executable).with_name("huren"))
    log = (out / "soak-server.log").open("wb")
    process = subprocess.Popen(
        [huren, "serve", "--host", "127.0.0.1", "--port", str(PORT), "--workers", "2"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"huren serve exited with {process.returncode}; see {out / 'soak-server.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("huren serve did not become ready in 90 s")


def worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """uvicorn's worker processes: the children of the process `huren serve` became, bar multiprocessing's
    resource tracker (also a child, and no server)."""
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            if parent == server.pid and b"resource_tracker" not in command:
                pids.append(int(entry.name))
    return sorted(pids)


def resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match[1]) / 1024 if match else float("nan")


async def pick_rows(dsn: str, seed: int, reads: int) -> dict[str, list[Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        total = int(await conn.fetchval("SELECT max(id) FROM credentials"))
        ids = random.Random(seed).sample(range(1, total + 1), reads)
        return {
            "cards": [tuple(r) for r in await conn.fetch(CARD_SQL, 400)],
            "status": [tuple(r) for r in await conn.fetch(STATUS_SQL, 10_000)],
            "reads": [tuple(r) for r in await conn.fetch(READ_SQL, ids)],
        }
    finally:
        await conn.close()


def issue_card_tokens(url: str, token: str, cards: list[tuple[str, str]]) -> list[str]:
    tokens = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        for region, number in cards:
            answer = http.post(f"/v1/cards/{region}/{number}/token")
            if answer.status_code == 200:
                tokens.append(str(answer.json()["token"]))
    if len(tokens) < len(cards) // 2:
        raise SystemExit(f"only {len(tokens)} of {len(cards)} card tokens could be issued")
    return tokens


def line(group: str, method: str, path: str, token: str, body: Any = None) -> str:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
    return "\t".join((group, method, path, token, text)) + "\n"


def write_requests(
    path: Path,
    bodies: list[dict[str, str]],
    card_tokens: list[str],
    reads: list[tuple[str, str, str]],
    status_rows: list[tuple[str, str, str]],
    seed: int,
) -> None:
    """The mix as lines: the random groups in proportion (19 lines a unit), then the status sequence (the
    wrk script sends one status change in 20 requests)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for _ in range(1000):
            for _ in range(11):
                out.write(line("verify", "POST", "/v1/verify", "verify", rng.choice(bodies)))
            out.write(line("batch", "POST", "/v1/verify/batch", "verify", {"items": rng.sample(bodies, 10)}))
            for _ in range(3):
                body = {"token": rng.choice(card_tokens)}
                out.write(line("card", "POST", "/v1/verify/card-token", "verify", body))
            for _ in range(4):
                kind, region, number = rng.choice(reads)
                out.write(line("read", "GET", f"/v1/credentials/{kind}/{region}/{number}", "writer"))
        # Each credential suspended, then (after every other in the slice) reinstated: never two changes of
        # one credential in flight at once, so no 409 from the soak's own ordering.
        for status, reason in (("suspended", "soak: 暂扣"), ("active", "soak: 暂扣发还")):
            for kind, region, number in status_rows:
                body = {"status": status, "reason": reason}
                out.write(
                    line("status", "POST", f"/v1/credentials/{kind}/{region}/{number}/status", "writer", body)
                )


def run_wrk(
    url: str,
    requests_file: Path,
    clients: Clients,
    seconds: int,
    connections: int,
    rate: float,
    seed: int,
) -> tuple[str, dict[str, int]]:
    """One wrk run of the mix at `rate` requests a second (0: closed loop); its output and answer counts."""
    argv = ["wrk", "-t1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "10s"]
    argv += ["-s", str(LUA), url, "--", str(requests_file), clients.verify_token, clients.writer_token]
    argv += [f"{rate:.3f}", str(seed)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=seconds + 120)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr}")
    match = re.search(r"SOAK-ANSWERS (.*)", done.stdout)
    if match is None:
        raise SystemExit(f"wrk printed no answer counts:\n{done.stdout}")
    answers = {k: int(v) for k, v in (pair.split("=") for pair in match[1].split())}
    return done.stdout, answers


def run_import(url: str, clients: Clients, work: Path, tag: str, rows: int) -> dict[str, Any]:
    """One import of `rows` new title rows through the server's background job; waits for its end."""
    file = work / f"soak-{tag}.csv"
    write_csv(file, rows, run=tag)
    headers = {"Authorization": f"Bearer {clients.writer_token}", "Idempotency-Key": f"soak-{tag}"}
    started = time.monotonic()
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        with file.open("rb") as handle:
            answer = http.post(
                "/v1/imports",
                params={"kind": "title", "mode": "commit"},
                files={"file": (file.name, handle, "text/csv")},
            )
        if answer.status_code not in (200, 201, 202):
            return {"tag": tag, "http_status": answer.status_code, "status": "refused", "seconds": None}
        job = answer.json()
        while job.get("status") not in ("succeeded", "failed") and time.monotonic() - started < 240:
            time.sleep(1)
            polled = http.get(f"/v1/imports/{job['id']}")
            if polled.status_code >= 500:
                return {
                    "tag": tag,
                    "http_status": polled.status_code,
                    "status": "poll-failed",
                    "seconds": None,
                }
            job = polled.json()
    file.unlink()
    return {
        "tag": tag,
        "http_status": answer.status_code,
        "status": job.get("status"),
        "inserted": job.get("inserted"),
        "rejected": job.get("rejected"),
        "seconds": round(time.monotonic() - started, 1),
    }


def soak_window(
    url: str,
    args: argparse.Namespace,
    clients: Clients,
    requests_file: Path,
    rate: float,
    index: int,
    server: subprocess.Popen[bytes],
) -> Window:
    imports: list[dict[str, Any]] = []

    def import_midway() -> None:
        time.sleep(args.window_seconds / 2)
        # The run's time in the tag: new numbers each run, so every import inserts, none finds them known.
        imports.append(run_import(url, clients, args.out, f"S{args.stamp[9:13]}{index}", args.import_rows))

    importer = threading.Thread(target=import_midway, daemon=True)
    importer.start()
    output, answers = run_wrk(
        url, requests_file, clients, args.window_seconds, args.connections, rate, args.seed + index
    )
    importer.join(timeout=240)
    (args.out / f"soak-{args.stamp}-window-{index}.txt").write_text(output)
    requests, rps, latency, _non_2xx, errors = parse_wrk(output)
    rss = {str(pid): round(resident_mb(pid), 1) for pid in worker_pids(server)}
    return Window(index, requests, rps, latency, answers, errors, rss, imports)


def measure_maximum(
    url: str, args: argparse.Namespace, clients: Clients, warm_up_file: Path, requests_file: Path
) -> float:
    """Closed loop, no delay: what the mix reaches when every connection sends as fast as answers come."""
    run_wrk(url, warm_up_file, clients, 10, args.connections, 0, args.seed)
    output, answers = run_wrk(url, requests_file, clients, args.max_seconds, args.connections, 0, args.seed)
    _requests, rps, latency, _non_2xx, _errors = parse_wrk(output)
    print(f"maximum: {rps:,.0f} req/s, p99 {latency.get('p99', 0):.1f} ms, answers {answers}", flush=True)
    return rps


async def vacuum(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def server_version(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def count_audit_events(dsn: str, since: datetime) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM audit_events WHERE occurred_at >= $1", since))
    finally:
        await conn.close()


def rss_growth(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {pid: after[pid] / before[pid] - 1 for pid in before if pid in after}


def judge(
    windows: list[Window], rss_at_start: dict[str, float], imports_ok: bool, audit_ok: bool, log_errors: int
) -> dict[str, Any]:
    first, last = windows[0], windows[-1]
    p99_change = last.latency_ms["p99"] / first.latency_ms["p99"] - 1
    # From the soak's start: the workers have served the warm-up, the maximum and a minute at the target by
    # then (every kind of request, about 100 s), so what grows after it is what the soak itself leaves behind.
    growth = rss_growth(rss_at_start, last.worker_rss_mb)
    five_xx = sum(w.answers["5xx"] for w in windows)
    socket = sum(sum(w.socket_errors.values()) for w in windows)
    checks = {
        "no_5xx": five_xx == 0,
        "no_socket_errors": socket == 0,
        "p99_last_within_20pct_of_first": abs(p99_change) <= 0.20,
        "worker_rss_growth_under_10pct": bool(growth) and all(g < 0.10 for g in growth.values()),
        "same_workers_throughout": set(rss_at_start) == set(last.worker_rss_mb),
        "imports_succeeded": imports_ok,
        "audit_chain_verifies": audit_ok,
        "no_error_lines_in_server_log": log_errors == 0,
    }
    return {
        "checks": checks,
        "passed": all(checks.values()),
        "five_xx": five_xx,
        "socket_errors": socket,
        "p99_change": p99_change,
        "worker_rss_growth": growth,
        "worker_rss_growth_after_first_window": rss_growth(first.worker_rss_mb, last.worker_rss_mb),
    }


def markdown(windows: list[Window], maximum: float, target: float, verdict: dict[str, Any]) -> str:
    lines = [
        f"Maximum of the mix: {maximum:,.0f} req/s; soak target {target:,.0f} req/s.",
        "",
        "| window (5 min) | req/s | p50 ms | p90 ms | p99 ms | 2xx | 4xx (409, 429) | 5xx | socket errors"
        " | worker RSS MB | import |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for w in windows:
        a = w.answers
        imports = "; ".join(f"{i['status']} in {i['seconds']} s" for i in w.imports) or "–"
        lines.append(
            f"| {w.index} | {w.requests_per_s:,.0f} | {w.latency_ms.get('p50', 0):.2f}"
            f" | {w.latency_ms.get('p90', 0):.2f} | {w.latency_ms.get('p99', 0):.2f} | {a['2xx']:,}"
            f" | {a['4xx'] + a['409'] + a['429']:,} ({a['409']}, {a['429']}) | {a['5xx']}"
            f" | {sum(w.socket_errors.values())} | {' / '.join(f'{v:.0f}' for v in w.worker_rss_mb.values())}"
            f" | {imports} |"
        )
    lines += ["", f"p99 last/first: {verdict['p99_change']:+.1%}; workers' RSS growth over the soak: "]
    lines[-1] += ", ".join(f"{g:+.1%}" for g in verdict["worker_rss_growth"].values())
    lines[-1] += " (after the first window: "
    lines[-1] += (
        ", ".join(f"{g:+.1%}" for g in verdict["worker_rss_growth_after_first_window"].values()) + ")"
    )
    lines += ["", "Checks: " + ", ".join(f"{k} {'✓' if v else '✗'}" for k, v in verdict["checks"].items())]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/huren_soak")
    parser.add_argument("--rows", type=int, default=1_000_000, help="credentials loaded before the soak")
    parser.add_argument("--no-load", action="store_true", help="reuse the database as it is")
    parser.add_argument("--minutes", type=int, default=30, help="soak length (a multiple of 5)")
    parser.add_argument("--window-seconds", type=int, default=300, help="length of each measured window")
    parser.add_argument("--fraction", type=float, default=0.5, help="share of the measured maximum")
    parser.add_argument("--max-seconds", type=int, default=30, help="length of the maximum's run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--import-rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if not args.no_load:
        asyncio.run(load(args.dsn, args.rows, per_holder=2))
    run_huren(args.dsn, "db", "upgrade")
    url = f"http://127.0.0.1:{PORT}"
    # What an earlier run (or the load) left for autovacuum is done now, not in the first window.
    asyncio.run(vacuum(args.dsn))
    server = start_server(args.dsn, args.out)
    try:
        clients = Clients(
            "",
            "",
            create_client(args.dsn, "soak-verify-CQ", "CQ", "verify"),
            create_client(args.dsn, "soak-writer-SC", "SC", WRITER_SCOPES),
        )
        refresh_tokens(url, clients)
        rows = asyncio.run(pick_rows(args.dsn, args.seed, 5000))
        credentials = asyncio.run(sample_credentials(args.dsn, args.rows, 5000, args.seed))
        bodies_file = args.out / f"soak-{args.stamp}-bodies.jsonl"
        write_bodies(bodies_file, credentials, args.seed)
        bodies = [json.loads(b) for b in bodies_file.read_text(encoding="utf-8").splitlines()]
        card_tokens = issue_card_tokens(url, clients.writer_token, rows["cards"])
        windows_wanted = max(1, args.minutes * 60 // args.window_seconds)
        # Disjoint slices of credentials for the status changes of each wrk run (warm-up, maximum,
        # the minute at the target and every window), so each run starts from active credentials.
        slices = [rows["status"][i::16] for i in range(16)]

        def requests_for(run: int) -> Path:
            path: Path = args.out / f"soak-{args.stamp}-requests-{run}.tsv"
            write_requests(path, bodies, card_tokens, rows["reads"], slices[run], args.seed + run)
            return path

        maximum = measure_maximum(url, args, clients, requests_for(0), requests_for(1))
        target = maximum * args.fraction
        # A minute at the target before the soak, with two imports (each worker's first import grows it by
        # a few MB once): the first window starts in the steady state.
        warm_imports = [
            threading.Thread(
                target=run_import, args=(url, clients, args.out, f"W{args.stamp[9:13]}{n}", 1000)
            )
            for n in (1, 2)
        ]
        for thread in warm_imports:
            thread.start()
        run_wrk(url, requests_for(2), clients, 60, args.connections, target, args.seed)
        for thread in warm_imports:
            thread.join(timeout=120)
        started_at = datetime.now(UTC)
        rss_at_start = {str(pid): round(resident_mb(pid), 1) for pid in worker_pids(server)}
        windows: list[Window] = []
        for index in range(1, windows_wanted + 1):
            refresh_tokens(url, clients)
            window = soak_window(url, args, clients, requests_for(index + 2), target, index, server)
            windows.append(window)
            print(
                f"window {index}: {window.requests_per_s:,.0f} req/s"
                f" p99 {window.latency_ms.get('p99', 0):.1f} ms answers {window.answers}"
                f" sockets {window.socket_errors} rss {window.worker_rss_mb}"
                f" imports {window.imports}",
                flush=True,
            )
        audit_events = asyncio.run(count_audit_events(args.dsn, started_at))
    finally:
        server.terminate()
        server.wait(timeout=30)
    audit = subprocess.run(
        [str(Path(sys.executable).with_name("huren")), "audit", "verify"],
        cwd=REPO,
        env=clean_environment() | {"HUREN_DATABASE_URL": sqlalchemy_url(args.dsn)},
        capture_output=True,
        text=True,
        check=False,
    )
    log_text = (args.out / "soak-server.log").read_text(errors="replace")
    log_errors = len(re.findall(r"Traceback|\bERROR\b|\bCRITICAL\b", log_text))
    imports_ok = all(
        i["status"] == "succeeded" and i["rejected"] == 0 for w in windows for i in w.imports
    ) and all(w.imports for w in windows)
    verdict = judge(windows, rss_at_start, imports_ok, audit.returncode == 0, log_errors)
    table = markdown(windows, maximum, target, verdict)
    result = {
        "environment": environment(args, asyncio.run(server_version(args.dsn)))
        | {"command": " ".join([Path(sys.executable).name, "-m", "bench.soak", *sys.argv[1:]])},
        "maximum_req_per_s": maximum,
        "target_req_per_s": target,
        "worker_rss_mb_at_start": rss_at_start,
        "windows": [asdict(w) for w in windows],
        "audit_events_during_soak": audit_events,
        "audit_verify": {"returncode": audit.returncode, "output": audit.stdout[-2000:]},
        "server_log_error_lines": log_errors,
        "verdict": verdict,
    }
    (args.out / f"soak-{args.stamp}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(table)
    print(f"audit events during the soak: {audit_events:,}; huren audit verify: exit {audit.returncode}")
    if not verdict["passed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
