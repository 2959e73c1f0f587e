"""Staff sessions (issue 15): what a sign-in costs, and whether a session check costs more than a token check.

    .venv/bin/python -m bench.load_registry --dsn postgresql://postgres@127.0.0.1:5432/huren_bench_session
    .venv/bin/python -m bench.session_cost --dsn postgresql://postgres@127.0.0.1:5432/huren_bench_session

For each target (PostgreSQL, the database of --dsn; then SQLite for reference, a file in --out holding a copy
of the credentials the requests name), in one run:

1. Staff of CQ are created in process (app.people.accounts.create_staff), then `huren serve --workers 1`
   starts (the real command: it migrates, then runs uvicorn on the app factory) with
   HUREN_TOTP_ROLES=["admin","auditor"]: clerks sign in with a password alone, auditors with a code as well.
2. Sign-in, `POST /v1/session`, `--sign-ins` requests of each kind from `--sign-in-clients` threads, a new
   connection each: first the auditors' enrolment (password, then the code of the current 30 s step), then
   clerks with a password alone (`--sign-in-names` of them in turn, so that no name's throttle row is
   contended), then the enrolled auditors with password and code, each once: the code of the *next* step,
   which the ±1 step drift window accepts and no earlier sign-in used, so nobody waits for a fresh step.
3. `POST /v1/verify` by wrk (bench/wrk_verify_as.lua) with the same bodies, seed and concurrency, once with a
   bearer token (a CQ client with scope `verify`, from POST /oauth/token) and once with the session cookie
   and X-CSRF-Token of a CQ clerk, alternating in pairs whose order flips. Bodies as in bench/verify.py
   (80 % matching holders, 10 % unknown numbers, 10 % other names; titles and cards).
4. The server stopped, the check alone in this process on the same database: StaffSessions.principal_for
   against Authenticator.principal_for with a cached token and with tokens never seen before (each an ES256
   verification), one call at a time, in rounds whose order rotates; wall and CPU time a check.

Results: bench/out/session_cost-*.json (no token, cookie or password is written there) and a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pyotp
import uvloop
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.load_registry import DEFAULT_DSN, DEFAULT_ROWS, sqlalchemy_url
from bench.registry_get import (
    BENCH_DIR,
    UNLIMITED,
    Server,
    clean_environment,
    database_activity,
    database_facts,
    environment,
    parse_wrk,
    postgres_cpu_seconds,
    summarise_profile,
    wait_ready,
)
from bench.verify import obtain_verify_token, sample_credentials, write_bodies

LUA = BENCH_DIR / "wrk_verify_as.lua"
HUREN = Path(sys.executable).with_name("huren")
SESSION_COOKIE = "huren_session"  # the cookie's name on a node served over http (app.people.sessions)
# Clerks (who verify) sign in with a password alone; auditors need a TOTP code as well.
TOTP_ROLES = ["admin", "auditor"]
REGION = "CQ"  # the bearer client's region and the clerk's: both callers are judged from the same place


@dataclass
class HurenServe(Server):
    """`huren serve` itself. With one worker uvicorn serves in the command's own process, which main_pid
    and cpu_seconds (its session) then find."""

    def start(self) -> None:
        argv = [str(HUREN), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()


@dataclass(frozen=True)
class Target:
    name: str  # "postgresql" or "sqlite"
    url: str  # SQLAlchemy URL the app is served from
    dsn: str | None  # libpq URL for pg_stat_database; None on SQLite


@dataclass
class Caller:
    """How one side of a pair authenticates: wrk's extra header lines. Kept out of the results file."""

    name: str
    headers: list[str]


@dataclass
class Run:
    caller: str
    pair: int
    requests: int
    requests_per_s: float
    latency_ms: dict[str, float]
    server_cpu_us_per_request: float
    postgres_cpu_us_per_request: float | None
    db_transactions_per_request: float | None


# --- set-up -----------------------------------------------------------------------------------------------


def settings_for(target: Target, public_url: str = "http://127.0.0.1:8000") -> Any:
    from app.settings import Settings

    return Settings(database_url=target.url, public_url=public_url, totp_roles=TOTP_ROLES)


async def copy_sample_to_sqlite(dsn: str, sqlite_url: str, numbers: list[str]) -> int:
    """The organisations, and the credentials (with holders) the request bodies name, from PostgreSQL into a
    migrated SQLite file: the bench loader's set-based SQL is PostgreSQL's own."""
    from app.db import Base, create_engine

    tables = Base.metadata.tables
    organisations, holders, credentials = tables["organisations"], tables["holders"], tables["credentials"]
    source = create_engine(settings_for(Target("postgresql", sqlalchemy_url(dsn), dsn)))
    sink = create_engine(settings_for(Target("sqlite", sqlite_url, None)))
    try:
        async with source.connect() as src:

            async def rows_where(table: Table, column: str, values: list[Any]) -> list[dict[str, Any]]:
                found: list[dict[str, Any]] = []
                for start in range(0, len(values), 5000):  # chunks: asyncpg binds at most 32,767 parameters
                    query = select(table).where(table.c[column].in_(values[start : start + 5000]))
                    found += [dict(row) for row in (await src.execute(query)).mappings()]
                return found

            copied = await rows_where(credentials, "number", numbers)
            people = await rows_where(holders, "id", sorted({row["holder_id"] for row in copied}))
            issuers = [dict(row) for row in (await src.execute(select(organisations))).mappings()]
        async with sink.begin() as dst:
            for table, rows in ((organisations, issuers), (holders, people), (credentials, copied)):
                await dst.execute(insert(table), rows)
        return len(copied)
    finally:
        await source.dispose()
        await sink.dispose()


async def create_staff_of(target: Target, roles: dict[str, str]) -> dict[str, str]:
    """People of CQ with the role given, and their initial passwords, made as `huren staff create` makes
    them (in one transaction)."""
    from app.cli import CLI_ACTOR, in_session
    from app.people.accounts import create_staff
    from app.people.roles import load_role_scopes

    async def work(session: AsyncSession) -> dict[str, str]:
        scopes = await load_role_scopes(session)
        passwords = {}
        for name, role in roles.items():
            _, password = await create_staff(
                session,
                username=name,
                display_name=f"压测{name[-3:]}",
                regions=[REGION],
                roles=[role],
                known_regions=["SC", "CQ"],
                role_scopes=scopes,
                actor=CLI_ACTOR,
            )
            assert password is not None
            passwords[name] = password
        return passwords

    result: dict[str, str] = await in_session(settings_for(target), work)
    return result


# --- sign-in ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    document: dict[str, Any]
    cookie: str | None
    seconds: float


def post_session(server: Server, body: dict[str, str]) -> Answer:
    """POST /v1/session on a connection of its own, as a browser's first request would."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        started = time.perf_counter()
        conn.request("POST", "/v1/session", json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        cookie = None
        for header in response.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            if name == SESSION_COOKIE:
                cookie = rest.split(";", 1)[0]
        return Answer(response.status, json.loads(payload or b"{}"), cookie, elapsed)
    finally:
        conn.close()


def sign_in_phase(
    server: Server, bodies: list[Callable[[], dict[str, str]]], clients: int
) -> tuple[dict[str, Any], list[Answer]]:
    """Every body (made just before it is sent: a TOTP code is computed at that moment) from `clients`
    threads; sign-ins a second, the server's CPU a sign-in, latency percentiles."""
    cpu_before, started = server.cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(lambda make: post_session(server, make()), bodies))
    wall, cpu = time.perf_counter() - started, server.cpu_seconds() - cpu_before
    refused = [a for a in answers if a.status != 200]
    if refused:
        raise SystemExit(f"{len(refused)} sign-ins refused, e.g. {refused[0].status} {refused[0].document}")
    latencies = sorted(a.seconds * 1000 for a in answers)
    figures = {
        "sign_ins": len(answers),
        "sign_ins_per_s": len(answers) / wall,
        "server_cpu_ms_per_sign_in": cpu / len(answers) * 1000,
        "p50_ms": statistics.median(latencies),
        "p90_ms": latencies[int(0.9 * (len(latencies) - 1))],
        "max_ms": latencies[-1],
    }
    return figures, answers


def measure_sign_in(
    server: Server, passwords: dict[str, str], plain: list[str], enrolled: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    secrets: dict[str, pyotp.TOTP] = {}
    for name in enrolled:  # the first sign-in asks to enrol, and shows the secret
        answer = post_session(server, {"username": name, "password": passwords[name]})
        if answer.document.get("code") != "session.otp_enrolment_required":
            raise SystemExit(f"{name}: expected an enrolment request, got {answer.status} {answer.document}")
        secrets[name] = pyotp.TOTP(pyotp.parse_uri(answer.document["otp_uri"]).secret)
    used_step: dict[str, int] = {}

    def with_code(name: str, next_step: bool) -> Callable[[], dict[str, str]]:
        def make() -> dict[str, str]:
            totp = secrets[name]
            step = totp.timecode(datetime.now(UTC)) + (1 if next_step else 0)
            if step <= used_step.get(name, -1):
                raise SystemExit(f"{name}: step {step} was used already (a slow run crossed two steps)")
            used_step[name] = step
            return {"username": name, "password": passwords[name], "otp": totp.generate_otp(step)}

        return make

    def password_only(name: str) -> Callable[[], dict[str, str]]:
        return lambda: {"username": name, "password": passwords[name]}

    enrol, _ = sign_in_phase(server, [with_code(n, next_step=False) for n in enrolled], args.sign_in_clients)
    repeats = [plain[i % len(plain)] for i in range(args.sign_ins)]
    password, _ = sign_in_phase(server, [password_only(n) for n in repeats], args.sign_in_clients)
    totp, _ = sign_in_phase(server, [with_code(n, next_step=True) for n in enrolled], args.sign_in_clients)
    for label, figures in (("enrolment", enrol), ("password", password), ("password+totp", totp)):
        print(
            f"  sign-in {label:>13}: {figures['sign_ins_per_s']:6.1f}/s  p50 {figures['p50_ms']:.0f} ms"
            f"  p90 {figures['p90_ms']:.0f} ms  server CPU {figures['server_cpu_ms_per_sign_in']:.1f} ms",
            flush=True,
        )
    return {"enrolment": enrol, "password_only": password, "password_and_totp": totp}


# --- POST /v1/verify, bearer against session ---------------------------------------------------------------


def post_verify(server: Server, caller: Caller, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Content-Type": "application/json"}
    headers |= {k: v.strip() for k, _, v in (line.partition(":") for line in caller.headers)}
    try:
        conn.request("POST", "/v1/verify", json.dumps(body, ensure_ascii=False).encode(), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def check_callers(server: Server, callers: list[Caller], bodies: list[dict[str, str]]) -> None:
    """Both callers get the same outcome on the same bodies, and a cookie without its CSRF token is refused:
    otherwise the pair would not compare the same work."""
    for body in bodies:
        answers = [post_verify(server, caller, body) for caller in callers]
        if any(status != 200 for status, _ in answers) or len({a["outcome"] for _, a in answers}) != 1:
            raise SystemExit(f"bearer and session answers differ on {body}: {answers}")
    cookie_only = Caller("cookie only", [h for h in callers[1].headers if h.startswith("Cookie")])
    status, document = post_verify(server, cookie_only, bodies[0])
    if status != 403 or document.get("code") != "session.csrf":
        raise SystemExit(f"a cookie without X-CSRF-Token answered {status} {document}")


def run_wrk(
    server: Server, target: Target, caller: Caller, args: argparse.Namespace, duration: str, seed: int
) -> tuple[str, float, float | None, int | None]:
    argv = ["wrk", "-t", "1", "-c", str(args.connections), "-d", duration, "--latency", "--timeout", "10s"]
    argv += ["-s", str(LUA), server.url, "--", str(args.bodies), str(seed), *caller.headers]
    db_before = asyncio.run(database_activity(target.dsn)) if target.dsn else None
    cpu_before, pg_before = server.cpu_seconds(), postgres_cpu_seconds()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    cpu, pg_cpu = server.cpu_seconds() - cpu_before, postgres_cpu_seconds() - pg_before
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr}")
    transactions = None
    if target.dsn and db_before:
        # The stats read after the run is a transaction of its own, counted in `after`: take it out.
        transactions = (
            asyncio.run(database_activity(target.dsn))["transactions"] - db_before["transactions"] - 1
        )
    return done.stdout, cpu, pg_cpu if target.dsn else None, transactions


def measure_verify(
    server: Server, target: Target, callers: list[Caller], args: argparse.Namespace
) -> list[Run]:
    for caller in callers:
        run_wrk(server, target, caller, args, args.warmup, seed=0)
    runs: list[Run] = []
    for pair in range(1, args.runs + 1):
        for caller in callers if pair % 2 else callers[::-1]:
            output, cpu, pg_cpu, transactions = run_wrk(server, target, caller, args, args.duration, pair)
            requests, rps, latency, non_2xx, errors = parse_wrk(output)
            (args.out / f"wrk-{args.stamp}-session-{target.name}-{caller.name}-{pair}.txt").write_text(output)
            if non_2xx or any(errors.values()):
                raise SystemExit(f"{caller.name}, pair {pair}: {non_2xx} non-2xx, socket errors {errors}")
            runs.append(
                Run(
                    caller=caller.name,
                    pair=pair,
                    requests=requests,
                    requests_per_s=rps,
                    latency_ms=latency,
                    server_cpu_us_per_request=cpu / requests * 1e6,
                    postgres_cpu_us_per_request=None if pg_cpu is None else pg_cpu / requests * 1e6,
                    db_transactions_per_request=None if transactions is None else transactions / requests,
                )
            )
            print(
                f"  pair {pair} {caller.name:>7}: {rps:8,.1f} req/s  p50 {latency['p50']:.2f} ms"
                f"  p99 {latency['p99']:.2f} ms  server CPU {runs[-1].server_cpu_us_per_request:.0f} µs/req",
                flush=True,
            )
    return runs


def summarise_verify(runs: list[Run]) -> dict[str, Any]:
    pairs = sorted({r.pair for r in runs})
    by = {(r.caller, r.pair): r for r in runs}
    ratios = [by["session", p].requests_per_s / by["bearer", p].requests_per_s for p in pairs]
    cpu_ratios = [
        by["session", p].server_cpu_us_per_request / by["bearer", p].server_cpu_us_per_request for p in pairs
    ]

    def medians(caller: str) -> dict[str, float | None]:
        mine = [r for r in runs if r.caller == caller]
        pg = [r.postgres_cpu_us_per_request for r in mine if r.postgres_cpu_us_per_request is not None]
        xacts = [r.db_transactions_per_request for r in mine if r.db_transactions_per_request is not None]
        return {
            "requests_per_s": statistics.median(r.requests_per_s for r in mine),
            "p50_ms": statistics.median(r.latency_ms["p50"] for r in mine),
            "p99_ms": statistics.median(r.latency_ms["p99"] for r in mine),
            "server_cpu_us_per_request": statistics.median(r.server_cpu_us_per_request for r in mine),
            "postgres_cpu_us_per_request": statistics.median(pg) if pg else None,
            "db_transactions_per_request": statistics.median(xacts) if xacts else None,
        }

    return {
        "bearer": medians("bearer"),
        "session": medians("session"),
        "session_over_bearer_rps_per_pair": [round(r, 4) for r in ratios],
        "session_over_bearer_rps_median": statistics.median(ratios),
        "session_over_bearer_cpu_per_pair": [round(r, 4) for r in cpu_ratios],
        "session_over_bearer_cpu_median": statistics.median(cpu_ratios),
    }


def profile(
    server: Server, target: Target, callers: list[Caller], args: argparse.Namespace
) -> dict[str, Any]:
    """py-spy on the worker under each caller's load: where a session request's extra time goes."""
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    found = {}
    for caller in callers:
        raw = args.out / f"session-profile-{args.stamp}-{target.name}-{caller.name}.txt"
        argv = [str(py_spy), "record", "-p", str(server.main_pid()), "-d", "10", "-r", "200", "--nolineno"]
        spy = subprocess.Popen(
            [*argv, "-f", "raw", "-o", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            time.sleep(0.5)
            run_wrk(server, target, caller, args, "10s", seed=999)
        finally:
            spy.wait(timeout=60)
        found[caller.name] = summarise_profile(raw.read_text())
    return found


# --- the check alone, in process ---------------------------------------------------------------------------


async def per_call(check: Callable[[int], Awaitable[object]], count: int) -> tuple[float, float]:
    """Wall and CPU (this process, every thread: aiosqlite's too) microseconds a call, one call at a time."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        await check(i)
    return (time.perf_counter() - wall) / count * 1e6, (time.process_time() - cpu) / count * 1e6


async def time_checks(
    target: Target, public_url: str, session_token: str, bearer_token: str, args: argparse.Namespace
) -> dict[str, Any]:
    from app.db import create_engine
    from app.main import create_app, start_services
    from app.security import ACCESS_TOKEN, encode_token, new_jti

    settings = settings_for(target, public_url)
    services = await start_services(create_app(settings), create_engine(settings))
    try:
        sessions, authenticator = services.staff_sessions, services.authenticator
        claims = jwt.decode(bearer_token, options={"verify_signature": False})
        fresh: list[str] = []

        async def session_check(_: int) -> object:
            return await sessions.principal_for(session_token, datetime.now(UTC))

        async def cached_token(_: int) -> object:
            return await authenticator.principal_for(bearer_token)

        async def first_seen_token(i: int) -> object:
            return await authenticator.principal_for(fresh[i])

        checks = {
            "session": session_check,
            "token_cached": cached_token,
            "token_first_seen": first_seen_token,
        }
        counts = {"session": args.checks, "token_cached": args.checks, "token_first_seen": args.checks // 4}
        for check in checks.values():  # warm: pools filled, statements prepared, caches loaded
            fresh = [
                encode_token(ACCESS_TOKEN, claims | {"jti": new_jti()}, services.keys) for _ in range(50)
            ]
            await per_call(check, 50)
        rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in checks}
        names = list(checks)
        for round_ in range(args.check_rounds):
            fresh = [
                encode_token(ACCESS_TOKEN, claims | {"jti": new_jti()}, services.keys)
                for _ in range(counts["token_first_seen"])
            ]
            for name in names[round_ % 3 :] + names[: round_ % 3]:
                rounds[name].append(await per_call(checks[name], counts[name]))
    finally:
        await services.close(dispose_engine=True)
    figures: dict[str, Any] = {
        name: {
            "calls_per_round": counts[name],
            "wall_us_median": statistics.median(w for w, _ in values),
            "cpu_us_median": statistics.median(c for _, c in values),
            "rounds": [[round(w, 1), round(c, 1)] for w, c in values],
        }
        for name, values in rounds.items()
    }
    for other in ("token_cached", "token_first_seen"):
        for unit in ("wall", "cpu"):
            figures[f"session_over_{other}_{unit}"] = (
                figures["session"][f"{unit}_us_median"] / figures[other][f"{unit}_us_median"]
            )
    return figures


# --- one target --------------------------------------------------------------------------------------------


def measure_target(
    target: Target, credentials: list[dict[str, str]], args: argparse.Namespace, port: int
) -> dict[str, Any]:
    print(f"{target.name}:", flush=True)
    tag = args.stamp.lower()
    plain = [f"bench-{tag}-pw-{i:03d}" for i in range(args.sign_in_names)]
    enrolled = [f"bench-{tag}-otp-{i:03d}" for i in range(args.sign_ins)]
    verifier = f"bench-{tag}-verify"
    roles = dict.fromkeys([*plain, verifier], "clerk") | dict.fromkeys(enrolled, "auditor")
    passwords = asyncio.run(create_staff_of(target, roles))
    env = clean_environment() | {
        "HUREN_DATABASE_URL": target.url,
        "HUREN_LOG_LEVEL": "warning",
        "HUREN_ACCESS_TOKEN_TTL_SECONDS": "3600",
        "HUREN_TOTP_ROLES": json.dumps(TOTP_ROLES),
        # Budgets the run never reaches: the limiter's bookkeeping still runs, it never refuses.
        "HUREN_RATE_LIMIT_PER_MINUTE": str(UNLIMITED),
        "HUREN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": str(UNLIMITED),
        "HUREN_TOKEN_RATE_LIMIT_PER_MINUTE": str(UNLIMITED),
    }
    server = HurenServe(
        f"huren-{target.name}", "huren serve", port, env, args.out / f"session-{target.name}.log", []
    )
    found: dict[str, Any] = {"target": target.name}
    try:
        server.start()
        wait_ready(server, "/healthz", token="")
        found["sign_in"] = measure_sign_in(server, passwords, plain, enrolled, args)
        bearer = obtain_verify_token(server, target.url if target.dsn is None else target.dsn, REGION)
        signed_in = post_session(server, {"username": verifier, "password": passwords[verifier]})
        if signed_in.cookie is None:
            raise SystemExit(f"sign-in of {verifier} gave no cookie: {signed_in.status} {signed_in.document}")
        cookie, csrf = signed_in.cookie, signed_in.document["csrf_token"]
        callers = [
            Caller("bearer", [f"Authorization: Bearer {bearer}"]),
            Caller("session", [f"Cookie: {SESSION_COOKIE}={cookie}", f"X-CSRF-Token: {csrf}"]),
        ]
        check_callers(server, callers, credentials[:20])
        runs = measure_verify(server, target, callers, args)
        found["verify_runs"] = [asdict(r) for r in runs]
        found["verify"] = summarise_verify(runs)
        if args.profile:
            found["profile"] = profile(server, target, callers, args)
    finally:
        server.stop()
    found["check_in_process"] = uvloop.run(time_checks(target, server.url, cookie, bearer, args))
    return found


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="libpq URL of a database from bench.load_registry")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="credentials loaded there")
    parser.add_argument("--targets", default="postgresql,sqlite")
    parser.add_argument("--sample", type=int, default=20_000, help="request bodies drawn from the database")
    parser.add_argument("--runs", type=int, default=5, help="bearer/session pairs")
    parser.add_argument("--duration", default="10s", help="wrk -d of each measured run")
    parser.add_argument("--warmup", default="5s", help="wrk -d of each caller's warm-up")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c")
    parser.add_argument("--sign-ins", type=int, default=100, help="sign-ins of each kind")
    parser.add_argument("--sign-in-names", type=int, default=20, help="clerks the password-only sign-ins use")
    parser.add_argument("--sign-in-clients", type=int, default=8, help="concurrent sign-ins")
    parser.add_argument(
        "--checks", type=int, default=2000, help="in-process checks a round (a quarter for new tokens)"
    )
    parser.add_argument("--check-rounds", type=int, default=7)
    parser.add_argument(
        "--profile", action="store_true", help="then sample the server under each caller's load"
    )
    parser.add_argument("--port", type=int, default=8121)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="where results are written")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.out.mkdir(parents=True, exist_ok=True)
    args.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    pg_version, total = asyncio.run(database_facts(args.dsn, args.rows))
    env = environment(args, pg_version) | {
        "command": " ".join([Path(sys.executable).name, "-m", "bench.session_cost", *sys.argv[1:]])
    }
    credentials = asyncio.run(sample_credentials(args.dsn, args.rows, args.sample, seed=1))
    args.bodies = args.out / f"session-bodies-{args.stamp}.jsonl"
    mix = write_bodies(args.bodies, credentials, seed=2)
    targets = []
    for name in args.targets.split(","):
        if name == "postgresql":
            targets.append(Target(name, sqlalchemy_url(args.dsn), args.dsn))
        elif name == "sqlite":
            path = args.out / f"session-{args.stamp}.sqlite"
            target = Target(name, f"sqlite+aiosqlite:///{path}", None)
            from app.bootstrap import prepare_database

            asyncio.run(prepare_database(settings_for(target)))
            copied = asyncio.run(
                copy_sample_to_sqlite(args.dsn, target.url, [c["number"] for c in credentials])
            )
            print(f"sqlite: {copied:,} credentials copied into {path.name}", flush=True)
            targets.append(target)
        else:
            raise SystemExit(f"unknown target {name!r}")
    results = [measure_target(t, credentials, args, args.port + i) for i, t in enumerate(targets)]
    document = {
        "benchmark": "session_cost",
        "environment": env,
        "credentials_in_database": total,
        "request_mix": mix,
        "targets": results,
    }
    path = args.out / f"session_cost-{args.stamp}.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    for found in results:
        verify, checks = found["verify"], found["check_in_process"]
        print(
            f"\n{found['target']}: session/bearer req/s {verify['session_over_bearer_rps_median']:.3f}"
            f" (pairs {verify['session_over_bearer_rps_per_pair']}),"
            f" CPU a request {verify['session_over_bearer_cpu_median']:.3f}"
        )
        for name in ("session", "token_cached", "token_first_seen"):
            print(
                f"  {name:>16}: {checks[name]['wall_us_median']:8.1f} µs wall"
                f"  {checks[name]['cpu_us_median']:8.1f} µs CPU"
            )
    print(f"results in {path}")


if __name__ == "__main__":
    main()
