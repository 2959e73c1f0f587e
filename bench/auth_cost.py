"""Token-endpoint throughput and the per-request cost of access-token checking, measured in one run.

The app is served with two bench-only routes (bench/auth_app.py) that run the same registry look-up, one open
and one behind the `registry:read` scope; wrk alternates between them, and then drives POST /oauth/token.
Run from the repository root, after `python -m bench.load_registry` (or `bench.registry_get --load`):

    .venv/bin/python -m bench.auth_cost
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load_registry import DEFAULT_DSN, credential_path, sqlalchemy_url
from bench.registry_get import (
    BENCH_DIR,
    REPO,
    UNLIMITED,
    Server,
    fetch,
    parse_wrk,
    prepare_like_serve,
    wait_ready,
)


def create_client(dsn: str) -> tuple[str, str]:
    huren = Path(sys.executable).with_name("huren")
    argv = [
        str(huren),
        "clients",
        "create",
        "--name",
        "bench-auth",
        "--region",
        "SC",
        "--scopes",
        "registry:read",
    ]
    argv += ["--rate-limit", str(UNLIMITED), "--json"]
    env = os.environ | {"HUREN_DATABASE_URL": sqlalchemy_url(dsn)}
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    client = json.loads(done.stdout.strip().splitlines()[-1])
    return str(client["client_id"]), str(client["client_secret"])


def get_token(server: Server, client_id: str, secret: str) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    status, body = fetch(server.url + "/oauth/token", "", form=form)
    if status != 200:
        raise SystemExit(f"token endpoint answered {status}: {body[:200]!r}")
    return str(json.loads(body)["access_token"])


def wrk(
    server: Server, args: argparse.Namespace, script: str, *script_args: str, duration: str
) -> dict[str, Any]:
    argv = ["wrk", "-t", "1", "-c", str(args.connections), "-d", duration, "--latency", "--timeout", "10s"]
    argv += ["-s", str(BENCH_DIR / script), server.url, "--", *script_args]
    cpu_before = server.cpu_seconds()
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=600)
    cpu = server.cpu_seconds() - cpu_before
    requests, rps, latency, non_2xx, errors = parse_wrk(done.stdout)
    if non_2xx:
        raise SystemExit(f"{script} {script_args[-1:]}: {non_2xx} non-2xx answers:\n{done.stdout}")
    return {
        "requests": requests,
        "rps": rps,
        "latency_ms": latency,
        "cpu_us_per_request": cpu / requests * 1e6,
        "socket_errors": errors,
    }


def measure_primitives() -> dict[str, float]:
    """What one token costs without HTTP: Argon2id verification (cache miss), ES256 sign and verify."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    from app.passwords import HASHER

    hashed = HASHER.hash("a-secret")
    started = time.perf_counter()
    for _ in range(20):
        HASHER.verify(hashed, "a-secret")
    argon2_ms = (time.perf_counter() - started) / 20 * 1000
    key = ec.generate_private_key(ec.SECP256R1())
    claims = {"sub": "x", "scope": "registry:read", "exp": int(time.time()) + 600}
    started = time.perf_counter()
    tokens = [jwt.encode(claims, key, algorithm="ES256") for _ in range(500)]
    sign_us = (time.perf_counter() - started) / 500 * 1e6
    started = time.perf_counter()
    for token in tokens:
        jwt.decode(token, key.public_key(), algorithms=["ES256"])
    verify_us = (time.perf_counter() - started) / 500 * 1e6
    return {"argon2_verify_ms": argon2_ms, "es256_sign_us": sign_us, "es256_verify_us": verify_us}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows loaded by bench.load_registry")
    parser.add_argument("--runs", type=int, default=5, help="open/authed pairs, and token-endpoint runs")
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--warmup", default="5s")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=8103)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.out.mkdir(parents=True, exist_ok=True)
    prepare_like_serve(args.dsn)
    client_id, secret = create_client(args.dsn)
    options = ["--workers", "1", "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    options += ["--no-access-log", "--no-proxy-headers", "--no-server-header"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUREN_", "BENCH_"))} | {
        "HUREN_DATABASE_URL": sqlalchemy_url(args.dsn),
        "HUREN_ACCESS_TOKEN_TTL_SECONDS": "3600",
        "HUREN_RATE_LIMIT_PER_MINUTE": str(UNLIMITED),
        "HUREN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": str(UNLIMITED),
        "HUREN_TOKEN_RATE_LIMIT_PER_MINUTE": str(UNLIMITED),
    }
    server = Server(
        "auth-app", "bench.auth_app:create_app", args.port, env, args.out / "auth-app.log", options
    )
    pairs: list[dict[str, Any]] = []
    token_runs: list[dict[str, Any]] = []
    try:
        server.start()
        wait_ready(server, "/healthz", token="")
        token = get_token(server, client_id, secret)
        sample = credential_path(7).removeprefix("/v1/credentials")
        open_answer = fetch(f"{server.url}/bench/open{sample}", "")
        authed_answer = fetch(f"{server.url}/bench/authed{sample}", token)
        if open_answer != authed_answer or open_answer[0] != 200:
            raise SystemExit("the open and authenticated routes must give the same answer")
        if fetch(f"{server.url}/bench/authed{sample}", "")[0] != 401:
            raise SystemExit("the authenticated route answered without a token")
        rows, basic = str(args.rows), base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        for prefix in ("/bench/open", "/bench/authed"):
            wrk(server, args, "wrk_prefix_get.lua", rows, token, "0", prefix, duration=args.warmup)
        wrk(server, args, "wrk_token.lua", basic, duration=args.warmup)
        for pair in range(1, args.runs + 1):
            order = ("/bench/open", "/bench/authed") if pair % 2 else ("/bench/authed", "/bench/open")
            result = {
                p: wrk(server, args, "wrk_prefix_get.lua", rows, token, str(pair), p, duration=args.duration)
                for p in order
            }
            pairs.append(result)
            print(
                f"pair {pair}: open {result['/bench/open']['rps']:.0f} req/s, "
                f"authed {result['/bench/authed']['rps']:.0f} req/s",
                flush=True,
            )
        for run in range(1, args.runs + 1):
            token_runs.append(wrk(server, args, "wrk_token.lua", basic, duration=args.duration))
            print(f"token run {run}: {token_runs[-1]['rps']:.0f} tokens/s", flush=True)
    finally:
        server.stop()

    ratios = [p["/bench/authed"]["rps"] / p["/bench/open"]["rps"] for p in pairs]
    extra_cpu = [
        p["/bench/authed"]["cpu_us_per_request"] - p["/bench/open"]["cpu_us_per_request"] for p in pairs
    ]
    summary = {
        "open_rps_median": statistics.median(p["/bench/open"]["rps"] for p in pairs),
        "authed_rps_median": statistics.median(p["/bench/authed"]["rps"] for p in pairs),
        "authed_over_open_ratio_median": statistics.median(ratios),
        "ratios": ratios,
        "auth_cpu_us_per_request_median": statistics.median(extra_cpu),
        "token_rps_median": statistics.median(r["rps"] for r in token_runs),
        "token_p99_ms_median": statistics.median(r["latency_ms"]["p99"] for r in token_runs),
        "token_cpu_us_per_request_median": statistics.median(r["cpu_us_per_request"] for r in token_runs),
        **measure_primitives(),
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    document = {
        "benchmark": "auth_cost",
        "when": stamp,
        "args": {k: str(v) for k, v in vars(args).items()},
        "pairs": pairs,
        "token_runs": token_runs,
        "summary": summary,
    }
    (args.out / f"auth_cost-{stamp}.json").write_text(json.dumps(document, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
