"""POST /v1/verify throughput against a bare Starlette + asyncpg look-up in one run, and no_match timing.

    .venv/bin/python -m bench.verify --load        # (re)load 1,000,000 credentials first
    .venv/bin/python -m bench.verify               # reuse the loaded database

The app runs as `huren serve` would (one uvicorn worker), authenticated with a token from POST /oauth/token,
rate limiting on (with a budget it never reaches), a signed receipt and an audit event per answer. The
baseline (bench/verify_baseline.py) does the single indexed look-up with the raw driver. Requests are drawn
from a file of bodies made from the database: 80 % holders that match, 10 % unknown numbers, 10 % a known
number with another name. Titles and cards only: bench/load_registry.py numbers skill certificates `B…`,
which no national numbering scheme allows, so the app would (rightly) answer no_match for them without a
look-up. wrk runs the two alternately, the order flipping each pair.

Then the two no_match causes are timed against each other on one keep-alive connection, interleaved at
random: the difference of the medians, with a bootstrap 95 % interval. Results: bench/out/verify-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.load_registry import DEFAULT_DSN, DEFAULT_ROWS, load, sqlalchemy_url
from bench.registry_get import (
    BENCH_DIR,
    REPO,
    UNLIMITED,
    Server,
    Usage,
    WrkResult,
    app_environment,
    clean_environment,
    database_activity,
    database_facts,
    environment,
    fetch,
    markdown,
    parse_wrk,
    postgres_cpu_seconds,
    prepare_like_serve,
    run_pairs,
    server_options,
    summarise,
    summarise_profile,
    wait_ready,
)

LUA = BENCH_DIR / "wrk_verify.lua"
SAMPLE_SQL = """
SELECT c.kind, c.region_code, c.number, h.name
FROM credentials AS c JOIN holders AS h ON h.id = c.holder_id
WHERE c.id = ANY($1::bigint[]) AND c.kind <> 'skill'
"""


async def sample_credentials(dsn: str, rows: int, count: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    ids = rng.sample(range(1, rows + 1), min(2 * count, rows))  # about 35 % are skills, left out
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetch(SAMPLE_SQL, ids)
    finally:
        await conn.close()
    picked = [
        {"kind": r["kind"], "region": r["region_code"], "number": r["number"], "name": r["name"]}
        for r in sorted(found, key=lambda r: str(r["number"]))
    ]
    rng.shuffle(picked)
    return picked[:count]


def unknown_number(body: dict[str, str]) -> dict[str, str]:
    # Same length and shape as a bench number, never loaded (bench numbers start with B).
    return {**body, "number": "Z" + body["number"][1:]}


def other_name(body: dict[str, str]) -> dict[str, str]:
    name = body["name"]
    return {**body, "name": name[:-1] + ("甲" if name[-1] != "甲" else "乙")}


def write_bodies(path: Path, credentials: list[dict[str, str]], seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    counts = {"match": 0, "unknown_number": 0, "other_name": 0}
    with path.open("w", encoding="utf-8") as handle:
        for body in credentials:
            draw = rng.random()
            if draw < 0.8:
                counts["match"] += 1
            elif draw < 0.9:
                body, counts["unknown_number"] = unknown_number(body), counts["unknown_number"] + 1
            else:
                body, counts["other_name"] = other_name(body), counts["other_name"] + 1
            handle.write(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")
    return counts


def post_json(
    url: str, token: str, body: dict[str, Any], timeout: float = 10.0
) -> tuple[int, dict[str, Any]]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        payload = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request("POST", "/v1/verify", payload, headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def obtain_verify_token(app: Server, dsn: str, region: str = "CQ") -> str:
    """A token the way an HR system of `region` gets one: a registered client, then POST /oauth/token."""
    huren = Path(sys.executable).with_name("huren")
    argv = [str(huren), "clients", "create", "--name", f"bench-verify-{region}", "--region", region]
    argv += ["--scopes", "verify", "--rate-limit", str(UNLIMITED), "--json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUREN_")}
    env["HUREN_DATABASE_URL"] = sqlalchemy_url(dsn)
    created = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if created.returncode != 0:
        raise SystemExit(f"huren clients create failed: {created.stderr or created.stdout}")
    client = json.loads(created.stdout.strip().splitlines()[-1])
    form = {"grant_type": "client_credentials", "scope": "verify"}
    form |= {"client_id": client["client_id"], "client_secret": client["client_secret"]}
    status, body = fetch(app.url + "/oauth/token", "", form=form)
    if status != 200:
        raise SystemExit(f"POST /oauth/token answered {status}: {body[:300]!r}")
    return str(json.loads(body)["access_token"])


def wait_posting(server: Server, token: str, body: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if post_json(server.url, token, body, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"{server.name} does not answer POST /v1/verify; see {server.log_path}")


def compare_outcomes(app: Server, baseline: Server, token: str, bodies: list[dict[str, str]]) -> int:
    """Both must reach the same outcome on the same bodies, or the ratio compares different work."""
    for body in bodies:
        got = [post_json(s.url, token, body) for s in (app, baseline)]
        if got[0][0] != 200 or got[1][0] != 200 or got[0][1]["outcome"] != got[1][1]["outcome"]:
            raise SystemExit(f"app and baseline disagree on {body}: {got[0]} / {got[1]}")
        if "receipt" not in got[0][1]:
            raise SystemExit("the app answered without a receipt")
    return len(bodies)


def run_wrk(server: Server, args: argparse.Namespace, duration: str, seed: int) -> tuple[str, Usage]:
    argv = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", duration, "--latency"]
    argv += [
        "--timeout",
        args.timeout,
        "-s",
        str(LUA),
        server.url,
        "--",
        str(args.bodies),
        args.token,
        str(seed),
    ]
    db_before = asyncio.run(database_activity(args.dsn))
    cpu_before, pg_before = server.cpu_seconds(), postgres_cpu_seconds()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    cpu_after, pg_after = server.cpu_seconds(), postgres_cpu_seconds()
    db_after = asyncio.run(database_activity(args.dsn))
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr}")
    usage = Usage(
        server_cpu_s=cpu_after - cpu_before,
        postgres_cpu_s=pg_after - pg_before,
        transactions=db_after["transactions"] - db_before["transactions"] - 1,
        tuples_written=db_after["tuples_written"] - db_before["tuples_written"],
    )
    return done.stdout, usage


def measure(server: Server, args: argparse.Namespace, pair: int) -> WrkResult:
    output, usage = run_wrk(server, args, args.duration, seed=pair)
    requests, rps, latency, non_2xx, errors = parse_wrk(output)
    (args.out / f"wrk-{args.stamp}-verify-{server.name}-{pair}.txt").write_text(output)
    if non_2xx:
        raise SystemExit(f"{server.name}, pair {pair}: {non_2xx} non-2xx answers; see {args.out}")
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


def time_no_match(app: Server, token: str, credentials: list[dict[str, str]], count: int) -> dict[str, Any]:
    """Latency of the two no_match causes, interleaved at random on one keep-alive connection."""
    rng = random.Random(7)
    jobs = [("unknown_number", unknown_number(c)) for c in credentials[:count]]
    jobs += [("other_name", other_name(c)) for c in credentials[count : 2 * count]]
    rng.shuffle(jobs)
    host, port = app.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    timings: dict[str, list[float]] = {"unknown_number": [], "other_name": []}
    try:
        for cause, body in jobs:
            payload = json.dumps(body, ensure_ascii=False).encode()
            started = time.perf_counter()
            conn.request("POST", "/v1/verify", payload, headers)
            answer = json.loads(conn.getresponse().read())
            elapsed = (time.perf_counter() - started) * 1000
            if answer.get("outcome") != "no_match":
                raise SystemExit(f"{cause} answered {answer.get('outcome')}")
            timings[cause].append(elapsed)
    finally:
        conn.close()
    unknown, other = timings["unknown_number"], timings["other_name"]
    differences, mean_differences = [], []
    for _ in range(1000):  # bootstrap the differences of medians and of means
        a = [rng.choice(unknown) for _ in unknown]
        b = [rng.choice(other) for _ in other]
        differences.append(statistics.median(a) - statistics.median(b))
        mean_differences.append(statistics.fmean(a) - statistics.fmean(b))
    differences.sort()
    mean_differences.sort()

    def describe(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {
            "median_ms": statistics.median(values),
            "mean_ms": statistics.fmean(values),
            "p90_ms": ordered[int(0.9 * len(ordered))],
        }

    return {
        "samples_per_cause": count,
        "unknown_number": describe(unknown),
        "other_name": describe(other),
        "median_difference_ms": statistics.median(unknown) - statistics.median(other),
        "median_difference_95ci_ms": [differences[25], differences[974]],
        # The wake-ups land on the event loop's millisecond ticks, so the medians can sit on a tick's edge
        # and jump; the mean is the steadier figure there. The raw timings are kept for other tests.
        "mean_difference_ms": statistics.fmean(unknown) - statistics.fmean(other),
        "mean_difference_95ci_ms": [mean_differences[25], mean_differences[974]],
        "timings_ms": timings,
    }


def profile_app(app: Server, args: argparse.Namespace, seconds: int = 10) -> dict[str, Any]:
    """py-spy samples the app worker under wrk load: where its CPU time per verification goes."""
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    raw = args.out / f"verify-profile-{args.stamp}.txt"
    argv = [str(py_spy), "record", "-p", str(app.main_pid()), "-d", str(seconds), "-r", "200", "--nolineno"]
    spy = subprocess.Popen(
        [*argv, "-f", "raw", "-o", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(0.5)
        run_wrk(app, args, f"{seconds}s", seed=999)
    finally:
        spy.wait(timeout=60)
    return summarise_profile(raw.read_text())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--load", action="store_true", help="drop, create and load the database first")
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="libpq URL of the benchmark database")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="credentials loaded")
    parser.add_argument("--sample", type=int, default=20_000, help="request bodies drawn from the database")
    parser.add_argument("--runs", type=int, default=5, help="baseline/app pairs")
    parser.add_argument("--duration", default="10s", help="wrk -d of each measured run")
    parser.add_argument("--warmup", default="5s", help="wrk -d of the unmeasured warm-up of each server")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of each server")
    parser.add_argument("--timeout", default="10s", help="wrk --timeout")
    parser.add_argument("--parity", type=int, default=2000, help="no_match timings per cause (0: skip)")
    parser.add_argument("--profile", action="store_true", help="then sample the app with py-spy under load")
    parser.add_argument("--app-port", type=int, default=8111)
    parser.add_argument("--baseline-port", type=int, default=8112)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="where results are written")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.out.mkdir(parents=True, exist_ok=True)
    args.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if args.load:
        print(f"loading {args.rows:,} credentials …", flush=True)
        print(f"loaded in {asyncio.run(load(args.dsn, args.rows, per_holder=2)):.1f} s", flush=True)
    pg_version, total = asyncio.run(database_facts(args.dsn, args.rows))
    prepare_like_serve(args.dsn)
    env = environment(args, pg_version) | {
        "command": " ".join([Path(sys.executable).name, "-m", "bench.verify", *sys.argv[1:]])
    }
    credentials = asyncio.run(sample_credentials(args.dsn, args.rows, args.sample + 2 * args.parity, seed=1))
    args.bodies = args.out / f"verify-bodies-{args.stamp}.jsonl"
    mix = write_bodies(args.bodies, credentials[: args.sample], seed=2)
    options = server_options(args.workers)
    app = Server(
        "app",
        "app.main:create_app",
        args.app_port,
        app_environment(args.dsn),
        args.out / "verify-app.log",
        options,
    )
    baseline = Server(
        "baseline",
        "bench.verify_baseline:create_app",
        args.baseline_port,
        clean_environment() | {"BENCH_DSN": args.dsn},
        args.out / "verify-baseline.log",
        options,
    )
    results: list[WrkResult] = []
    parity: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    try:
        app.start()
        wait_ready(app, "/healthz", token="")
        args.token = obtain_verify_token(app, args.dsn)
        baseline.env["BENCH_TOKEN"] = args.token
        baseline.start()
        for server in (baseline, app):
            wait_posting(server, args.token, credentials[0])
        compared = compare_outcomes(
            app, baseline, args.token, [*credentials[:20], unknown_number(credentials[0])]
        )
        print(f"app and baseline agree on {compared} outcomes", flush=True)
        for server in (baseline, app):
            run_wrk(server, args, args.warmup, seed=0)
        results = run_pairs(
            app,
            baseline,
            args.runs,
            lambda server, pair: measure(server, args, pair),
            lambda result: f"tuples written/req {result.db_tuples_written_per_request:.2f}",
        )
        if args.parity:
            parity = time_no_match(app, args.token, credentials[args.sample :], args.parity)
        if args.profile:
            profile = profile_app(app, args)
    finally:
        for server in (app, baseline):
            server.stop()
    summary = summarise(results) if results else None  # --runs 0: the no_match timing only
    path = args.out / f"verify-{args.stamp}.json"
    document = {
        "benchmark": "verify",
        "environment": env,
        "credentials_in_database": total,
        "request_mix": mix,
        "results": [asdict(r) for r in results],
        "summary": summary,
        "no_match_parity": parity,
        "profile": profile,
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    if summary is not None:
        print()
        print(markdown(results, summary))
        print(f"\nmedian ratio app/baseline {summary['ratio_median']:.3f}")
    print(f"results in {path.relative_to(REPO)}")
    if parity:
        print(json.dumps({k: v for k, v in parity.items() if k != "timings_ms"}, indent=2))
    if profile:
        print("app profile, inclusive % of busy samples:")
        for name, pct in profile["inclusive_percent"][:45]:
            print(f"  {pct:5.1f} %  {name}")


if __name__ == "__main__":
    main()
