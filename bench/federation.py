"""Forwarded verification (CQ node -> SC node) against local verification (at the SC node), in one run.

    .venv/bin/python -m bench.federation            # needs bench/load_registry.py's database (huren_bench)

Two `huren`-like nodes, one uvicorn worker each: SC on the loaded database (holding SC only), CQ on a database
of its own (`huren_bench_cq`, holding CQ only) with SC as its peer. The same request bodies (SC titles and
cards: 80 % matching holders, 10 % unknown numbers, 10 % other names) go alternately to the SC node by an SC
client (local) and to the CQ node by a CQ client (forwarded: CQ signs an assertion, SC looks up and signs the
receipt, CQ checks the receipt against SC's JWKS and adds its recognition). wrk -c32, pairs alternating.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load_registry import DEFAULT_DSN, recreate_database, sqlalchemy_url
from bench.registry_get import (
    BENCH_DIR,
    REPO,
    UNLIMITED,
    Server,
    WrkResult,
    prepare_like_serve,
    summarise_profile,
    wait_ready,
)
from bench.verify import measure, obtain_verify_token, run_wrk, sample_credentials, wait_posting, write_bodies


def profile_both(sc: Server, cq: Server, args: argparse.Namespace, cq_token: str, seconds: int = 8) -> None:
    """py-spy on both nodes while the CQ node forwards: where a forwarded verification's time goes."""
    py_spy = Path(sys.executable).with_name("py-spy")
    spies = []
    for server in (sc, cq):
        raw = args.out / f"federation-profile-{server.name}-{args.stamp}.txt"
        argv = [str(py_spy), "record", "-p", str(server.main_pid()), "-d", str(seconds), "-r", "200"]
        spies.append((server, raw, subprocess.Popen([*argv, "--nolineno", "-f", "raw", "-o", str(raw)])))
    args.token = cq_token
    run_wrk(cq, args, f"{seconds}s", seed=99)
    for server, raw, spy in spies:
        spy.wait(timeout=60)
        profile = summarise_profile(raw.read_text())
        print(f"{server.name} node, inclusive % (app frames):")
        for frame, share in [f for f in profile["inclusive_percent"] if "(app/" in f[0]][:14]:
            print(f"  {share:5.1f} %  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="the loaded database, served by the SC node")
    parser.add_argument("--cq-dsn", default="postgresql://postgres@127.0.0.1:5432/huren_bench_cq")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--warmup", default="5s")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timeout", default="10s")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--profile", action="store_true", help="then sample both nodes under forwarded load")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.out.mkdir(parents=True, exist_ok=True)
    args.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    asyncio.run(recreate_database(args.cq_dsn))
    for dsn in (args.dsn, args.cq_dsn):
        prepare_like_serve(dsn)
    credentials = [c for c in asyncio.run(sample_credentials(args.dsn, args.rows, 2 * args.sample, seed=3))]
    sc_only = [c for c in credentials if c["region"] == "SC"][: args.sample]
    args.bodies = args.out / f"federation-bodies-{args.stamp}.jsonl"
    mix = write_bodies(args.bodies, sc_only, seed=4)
    sc_port, cq_port = 8121, 8122
    sc_url, cq_url = f"http://127.0.0.1:{sc_port}", f"http://127.0.0.1:{cq_port}"
    options = ["--workers", "1", "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    options += ["--no-access-log", "--no-proxy-headers", "--no-server-header"]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("HUREN_", "BENCH_"))}
    common = {
        "HUREN_LOG_LEVEL": "warning",
        "HUREN_ACCESS_TOKEN_TTL_SECONDS": "3600",
        "HUREN_RATE_LIMIT_PER_MINUTE": str(UNLIMITED),
        "HUREN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": str(UNLIMITED),
    }
    sc = Server(
        "local",
        "app.main:create_app",
        sc_port,
        base_env
        | common
        | {
            "HUREN_DATABASE_URL": sqlalchemy_url(args.dsn),
            "HUREN_REGIONS": '["SC"]',
            "HUREN_PUBLIC_URL": sc_url,
            "HUREN_PEERS": json.dumps({"CQ": cq_url}),
        },
        args.out / "federation-sc.log",
        options,
    )
    cq = Server(
        "forwarded",
        "app.main:create_app",
        cq_port,
        base_env
        | common
        | {
            "HUREN_DATABASE_URL": sqlalchemy_url(args.cq_dsn),
            "HUREN_REGIONS": '["CQ"]',
            "HUREN_PUBLIC_URL": cq_url,
            "HUREN_PEERS": json.dumps({"SC": sc_url}),
        },
        args.out / "federation-cq.log",
        options,
    )
    results: list[WrkResult] = []
    try:
        for server in (sc, cq):
            server.start()
            wait_ready(server, "/healthz", token="")
        sc_token = obtain_verify_token(sc, args.dsn, "SC")
        cq_token = obtain_verify_token(cq, args.cq_dsn, "CQ")
        wait_posting(sc, sc_token, sc_only[0])
        wait_posting(cq, cq_token, sc_only[0])
        tokens = {"local": (sc, sc_token), "forwarded": (cq, cq_token)}
        for server, token in tokens.values():
            args.token = token
            run_wrk(server, args, args.warmup, seed=0)
        for pair in range(1, args.runs + 1):
            order = ["local", "forwarded"] if pair % 2 else ["forwarded", "local"]
            for name in order:
                server, args.token = tokens[name]
                result = measure(server, args, pair)
                results.append(result)
                latency = result.latency_ms
                print(
                    f"pair {pair} {name:>9}: {result.requests_per_s:8,.1f} req/s"
                    f"  p50 {latency['p50']:.1f} ms  p99 {latency['p99']:.1f} ms",
                    flush=True,
                )
        if args.profile:
            profile_both(sc, cq, args, cq_token)
    finally:
        for server in (cq, sc):
            server.stop()
    summary: dict[str, Any] = {}
    for name in ("local", "forwarded"):
        runs = [r for r in results if r.target == name]
        summary[name] = {
            "requests_per_s": statistics.median(r.requests_per_s for r in runs),
            "p50_ms": statistics.median(r.latency_ms["p50"] for r in runs),
            "p99_ms": statistics.median(r.latency_ms["p99"] for r in runs),
        }
    ratios = [
        next(r for r in results if r.pair == p and r.target == "forwarded").requests_per_s
        / next(r for r in results if r.pair == p and r.target == "local").requests_per_s
        for p in range(1, args.runs + 1)
    ]
    summary["forwarded_over_local"] = statistics.median(ratios)
    summary["ratio_per_pair"] = [round(r, 3) for r in ratios]
    path = args.out / f"federation-{args.stamp}.json"
    document = {
        "benchmark": "federation",
        "command": " ".join([Path(sys.executable).name, "-m", "bench.federation", *sys.argv[1:]]),
        "load_average_at_start": os.getloadavg(),
        "request_mix": mix,
        "results": [asdict(r) for r in results],
        "summary": summary,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"results in {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
