"""The admin console's server time (issue 16): every JSON request each section of /admin makes when it opens
and when it is used, on a registry of 1,000,000 credentials and an import job with 100,000 row errors.

    .venv/bin/python -m bench.load_registry --dsn postgresql://postgres@127.0.0.1:5432/huren_bench_session
    .venv/bin/python -m bench.console_pages --dsn postgresql://postgres@127.0.0.1:5432/huren_bench_session

1. The database is migrated as `huren serve` would (bench.registry_get.prepare_like_serve). If it holds no
   validated import job with at least --errors rejected rows, a CSV of that many title rows, each with a
   wrong ID-number check digit, is written and run through `huren import --validate-only` (the same job code
   as POST /v1/imports?mode=validate; its errors are stored the same way).
2. An admin of SC and CQ is made with `huren staff create --json`; `huren serve --workers 1` starts with
   HUREN_TOTP_ROLES=["admin"]; the admin enrols a TOTP factor from the otp_uri of the first sign-in (pyotp)
   and signs in with password and code, as a browser would.
3. Each request of the table in REQUESTS (the paths app/web/console/*.js builds, with the values the
   database holds) is sent --requests times in a row on one keep-alive connection with the session cookie
   (and X-CSRF-Token on POSTs), after --warmup unmeasured ones. Every answer must be 200.

Server time is the time this client measures on loopback, from sending the request to the last byte of the
answer: the server's own work plus a loopback round trip (tens of µs). The app's Prometheus histogram has
buckets too coarse for a p95, so it is not used. GET /v1/admin/audit/verify walks the whole chain: it is
measured with --verify-requests and reported apart from the 150 ms budget.

Results: bench/out/console_pages-*.json and a markdown table (a ⚠ marks a p95 over --budget-ms).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg
import pyotp

from bench.import_rows import write_csv
from bench.load_registry import DEFAULT_DSN, DEFAULT_ROWS, sqlalchemy_url
from bench.registry_get import (
    BENCH_DIR,
    UNLIMITED,
    clean_environment,
    database_facts,
    environment,
    prepare_like_serve,
    wait_ready,
)
from bench.session_cost import HUREN, SESSION_COOKIE, HurenServe

ADMIN_ROLES = ["admin"]
# The console's page sizes (import.js ERROR_PAGE and its job list, registry.js, audit.js PAGE_SIZE).
ERROR_PAGE, JOB_PAGE, CREDENTIAL_PAGE, AUDIT_PAGE = 50, 10, 20, 50


@dataclass(frozen=True)
class Request:
    page: str  # the console section (its tab's name)
    label: str  # what the person did there
    method: str
    path: str
    body: dict[str, Any] | None = None
    in_budget: bool = True  # False: measured, reported apart from the 150 ms budget


@dataclass
class Measured:
    page: str
    label: str
    method: str
    path: str
    body: dict[str, Any] | None
    requests: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    answer_bytes: int
    in_budget: bool
    over_budget: bool


# --- the 100,000-error import ------------------------------------------------------------------------------


def write_bad_csv(path: Path, rows: int, run: str) -> None:
    """`rows` title rows that fail validation each on one cell: the ID number's check digit is wrong
    (tests/imports: `identity.check_digit`), so every row is its own row error."""
    good = path.with_suffix(".good.csv")
    write_csv(good, rows, run)
    with (
        good.open(newline="", encoding="utf-8") as source,
        path.open("w", newline="", encoding="utf-8") as sink,
    ):
        reader, writer = csv.reader(source), csv.writer(sink)
        header = next(reader)
        writer.writerow(header)
        at = header.index("holder_id_number")
        for row in reader:
            last = row[at][-1]
            row[at] = row[at][:-1] + ("0" if last != "0" else "1")
            writer.writerow(row)
    good.unlink()


async def error_job(dsn: str, errors: int) -> str | None:
    conn = await asyncpg.connect(dsn)
    try:
        found: str | None = await conn.fetchval(
            "SELECT id FROM import_jobs WHERE mode = 'validate' AND rejected >= $1 ORDER BY created_at DESC",
            errors,
        )
        return found
    finally:
        await conn.close()


def ensure_error_job(dsn: str, errors: int, out: Path, stamp: str) -> str:
    found = asyncio.run(error_job(dsn, errors))
    if found:
        return found
    path = out / f"console-errors-{stamp}.csv"
    write_bad_csv(path, errors, run=f"E{stamp[2:8]}")
    env = clean_environment() | {
        "HUREN_DATABASE_URL": sqlalchemy_url(dsn),
        "HUREN_IMPORT_DIR": str(out / "import-files"),
        "COLUMNS": "120",
    }
    print(f"validating {errors:,} bad rows with huren import --validate-only …", flush=True)
    started = time.perf_counter()
    done = subprocess.run(
        [str(HUREN), "import", str(path), "--kind", "title", "--validate-only"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    path.unlink()
    # Exit code 1 means rows were rejected: what is wanted here.
    if done.returncode not in (0, 1):
        raise SystemExit(f"huren import failed ({done.returncode}): {done.stderr[-2000:]}")
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    found = asyncio.run(error_job(dsn, errors))
    if not found:
        raise SystemExit(f"the import stored fewer than {errors:,} errors: {done.stdout[-2000:]}")
    return found


# --- the admin and their session ----------------------------------------------------------------------------


def create_admin(dsn: str, username: str) -> str:
    env = clean_environment() | {"HUREN_DATABASE_URL": sqlalchemy_url(dsn)}
    argv = [str(HUREN), "staff", "create", "--username", username, "--display-name", "压测管理员"]
    argv += ["--regions", "SC,CQ", "--roles", ",".join(ADMIN_ROLES), "--json"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    password: str = json.loads(done.stdout)["password"]
    return password


class Client:
    """One keep-alive connection, as a browser tab keeps to its origin."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers: dict[str, str] = {}

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes, float]:
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        self.conn.request(method, path, payload, headers)
        response = self.conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        if method == "POST" and path == "/v1/session":
            for header in response.headers.get_all("set-cookie") or []:
                name, _, rest = header.partition("=")
                if name == SESSION_COOKIE:
                    self.headers["Cookie"] = f"{SESSION_COOKIE}={rest.split(';', 1)[0]}"
        return response.status, data, elapsed

    def json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, data, _ = self.send(method, path, body)
        if status != 200:
            raise SystemExit(f"{method} {path}: {status} {data[:500]!r}")
        return json.loads(data)


def sign_in(client: Client, username: str, password: str) -> None:
    status, data, _ = client.send("POST", "/v1/session", {"username": username, "password": password})
    document = json.loads(data)
    if document.get("code") != "session.otp_enrolment_required":
        raise SystemExit(f"expected an enrolment request, got {status} {document}")
    totp = pyotp.TOTP(pyotp.parse_uri(document["otp_uri"]).secret)
    body = {"username": username, "password": password, "otp": totp.now()}
    signed_in = client.json("POST", "/v1/session", body)
    client.headers["X-CSRF-Token"] = signed_in["csrf_token"]


# --- the requests -------------------------------------------------------------------------------------------


def query(params: dict[str, Any]) -> str:
    """api.js query(): empty values left out."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"?{urlencode(kept)}" if kept else ""


async def sample_values(dsn: str) -> dict[str, Any]:
    """Values of the database to search by: a credential in the middle of the id order, its holder's name,
    the issuer with most credentials, a rule."""
    conn = await asyncpg.connect(dsn)
    try:
        credential = await conn.fetchrow(
            """SELECT c.kind, c.region_code, c.number, h.name AS holder, o.usci, o.name AS issuer
               FROM credentials c JOIN holders h ON h.id = c.holder_id
               JOIN organisations o ON o.id = c.issuer_id
               WHERE c.id >= (SELECT (min(id) + max(id)) / 2 FROM credentials) ORDER BY c.id LIMIT 1"""
        )
        busiest = await conn.fetchrow(
            """SELECT o.usci, o.name FROM organisations o
               ORDER BY (SELECT count(*) FROM credentials c WHERE c.issuer_id = o.id) DESC LIMIT 1"""
        )
        rule = await conn.fetchrow("SELECT code FROM recognition_rules ORDER BY code LIMIT 1")
        actor = await conn.fetchval(
            "SELECT actor FROM audit_events WHERE actor <> '' GROUP BY actor ORDER BY count(*) DESC LIMIT 1"
        )
    finally:
        await conn.close()
    if credential is None or busiest is None or rule is None:
        raise SystemExit("the database holds no credentials or no recognition rules")
    return {
        "kind": credential["kind"],
        "region": credential["region_code"],
        "number": credential["number"],
        "holder": credential["holder"],
        "issuer_usci": busiest["usci"],
        "issuer_name_part": busiest["name"][:4],
        "rule": rule["code"],
        "actor": actor,
    }


def later_cursor(client: Client, path: str, key: str, depth: int, page: int) -> str:
    """The cursor the console holds after paging to about `depth` rows (walked in pages of `page`)."""
    cursor: str | None = None
    seen = 0
    while seen < depth:
        found = client.json("GET", f"{path}{query({'limit': page, 'cursor': cursor})}")
        seen += len(found[key])
        if not found.get("next_cursor"):
            break
        cursor = str(found["next_cursor"])
    if cursor is None:
        raise SystemExit(f"{path}: no later page")
    return cursor


def requests(client: Client, v: dict[str, Any], job_id: str, errors: int) -> list[Request]:
    errors_path = f"/v1/imports/{job_id}/errors"
    deep_errors = later_cursor(client, errors_path, "errors", errors // 2, 1000)
    first_search = client.json(
        "GET", f"/v1/credentials{query({'kind': v['kind'], 'region': v['region'], 'limit': CREDENTIAL_PAGE})}"
    )
    first_audit = client.json("GET", f"/v1/admin/audit{query({'limit': AUDIT_PAGE})}")
    credential = f"/v1/credentials/{v['kind']}/{quote(v['region'])}/{quote(v['number'])}"
    rule = next(
        r for r in client.json("GET", "/v1/admin/recognition-rules")["items"] if r["code"] == v["rule"]
    )
    # rules.js proposal(): the rule as stored, with an edited priority (what an admin changes first).
    proposal = {
        key: rule[key]
        for key in (
            *("kind", "source_region", "target_region", "mode", "criteria", "equivalent", "basis"),
            *("effective_from", "effective_until", "note"),
        )
    } | {"priority": rule["priority"] + 1}
    search = "/v1/credentials"
    listing = [
        ("kind+region", {"kind": v["kind"], "region": v["region"]}),
        (
            "kind+region, page 2",
            {"kind": v["kind"], "region": v["region"], "cursor": first_search["next_cursor"]},
        ),
        ("number", {"number": v["number"]}),
        ("holder_name", {"holder_name": v["holder"]}),
        ("issuer (USCI)", {"issuer": v["issuer_usci"]}),
        ("issuer (part of name)", {"issuer": v["issuer_name_part"]}),
        ("status=suspended", {"status": "suspended"}),
        ("status=expired", {"status": "expired"}),
        ("issued_from/issued_to", {"issued_from": "2020-03-01", "issued_to": "2020-03-31"}),
        (
            "kind+region+status+issued",
            {"kind": v["kind"], "region": v["region"], "status": "revoked", "issued_from": "2024-01-01"},
        ),
    ]
    return [
        Request("导入", "job list", "GET", f"/v1/imports{query({'limit': JOB_PAGE})}"),
        Request("导入", "one job", "GET", f"/v1/imports/{job_id}"),
        Request(
            "导入", "errors, first page (with total)", "GET", f"{errors_path}{query({'limit': ERROR_PAGE})}"
        ),
        Request(
            "导入",
            f"errors, page at row {errors // 2:,}",
            "GET",
            f"{errors_path}{query({'limit': ERROR_PAGE, 'cursor': deep_errors})}",
        ),
        *(
            Request(
                "登记查询",
                f"search: {label}",
                "GET",
                f"{search}{query({**params, 'limit': CREDENTIAL_PAGE})}",
            )
            for label, params in listing
        ),
        Request("登记查询", "open a credential", "GET", credential),
        Request("登记查询", "its history", "GET", f"{credential}/history"),
        Request(
            "状态变更",
            "preview: kind+region",
            "POST",
            "/v1/admin/status-changes/preview",
            {"filter": {"kind": v["kind"], "region": v["region"]}, "status": "suspended"},
        ),
        Request(
            "状态变更",
            "preview: issuer",
            "POST",
            "/v1/admin/status-changes/preview",
            {"filter": {"issuer_usci": v["issuer_usci"]}, "status": "suspended"},
        ),
        Request(
            "状态变更",
            "preview: issue dates",
            "POST",
            "/v1/admin/status-changes/preview",
            {"filter": {"issued_from": "2020-01-01", "issued_to": "2021-12-31"}, "status": "revoked"},
        ),
        Request("状态变更", "recent jobs", "GET", "/v1/admin/status-changes?limit=10"),
        Request("互认规则", "list", "GET", "/v1/admin/recognition-rules"),
        Request(
            "互认规则",
            f"preview {v['rule']}",
            "POST",
            f"/v1/admin/recognition-rules/{quote(v['rule'])}/preview",
            proposal,
        ),
        Request("审计", "no filter", "GET", f"/v1/admin/audit{query({'limit': AUDIT_PAGE})}"),
        Request(
            "审计", "actor=", "GET", f"/v1/admin/audit{query({'actor': v['actor'], 'limit': AUDIT_PAGE})}"
        ),
        Request(
            "审计",
            "action=credential.verified",
            "GET",
            f"/v1/admin/audit{query({'action': 'credential.verified', 'limit': AUDIT_PAGE})}",
        ),
        Request(
            "审计",
            "action=status. (prefix)",
            "GET",
            f"/v1/admin/audit{query({'action': 'status.', 'limit': AUDIT_PAGE})}",
        ),
        Request(
            "审计",
            "next page (cursor)",
            "GET",
            f"/v1/admin/audit{query({'cursor': first_audit['next_cursor'], 'limit': AUDIT_PAGE})}",
        ),
        Request("客户端/人员", "clients", "GET", "/v1/admin/clients"),
        Request("客户端/人员", "staff", "GET", "/v1/admin/staff"),
        Request("审计", "verify the chain (whole walk)", "GET", "/v1/admin/audit/verify", in_budget=False),
    ]


def measure(client: Client, request: Request, count: int, warmup: int, budget_ms: float) -> Measured:
    times: list[float] = []
    size = 0
    for i in range(warmup + count):
        status, data, elapsed = client.send(request.method, request.path, request.body)
        if status != 200:
            raise SystemExit(f"{request.page} {request.label}: {status} {data[:500]!r}")
        if i >= warmup:
            times.append(elapsed * 1000)
            size = len(data)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return Measured(
        page=request.page,
        label=request.label,
        method=request.method,
        path=request.path,
        body=request.body,
        requests=count,
        p50_ms=statistics.median(times),
        p95_ms=p95,
        max_ms=times[-1],
        answer_bytes=size,
        in_budget=request.in_budget,
        over_budget=request.in_budget and p95 > budget_ms,
    )


def markdown(results: list[Measured], budget_ms: float) -> str:
    lines = ["| page | request | p50 ms | p95 ms | max ms | n |", "|---|---|---:|---:|---:|---:|"]
    for r in results:
        mark = " ⚠" if r.over_budget else ""
        note = "" if r.in_budget else " (outside the budget)"
        lines.append(
            f"| {r.page} | {r.method} {r.label}{note} | {r.p50_ms:.1f} | {r.p95_ms:.1f}{mark}"
            f" | {r.max_ms:.1f} | {r.requests} |"
        )
    worst = max((r for r in results if r.in_budget), key=lambda r: r.p95_ms)
    lines.append(
        f"\nslowest p95 within the budget: {worst.page} {worst.label}, {worst.p95_ms:.1f} ms"
        f" (budget {budget_ms:.0f} ms)"
    )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="libpq URL of a database from bench.load_registry")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="credentials loaded there")
    parser.add_argument("--errors", type=int, default=100_000, help="row errors of the import job")
    parser.add_argument("--requests", type=int, default=200, help="measured requests of each kind")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured requests of each kind first")
    parser.add_argument("--verify-requests", type=int, default=5, help="measured whole-chain verifications")
    parser.add_argument("--budget-ms", type=float, default=150.0, help="the p95 each page must stay under")
    parser.add_argument("--port", type=int, default=8131)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="where results are written")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.out.mkdir(parents=True, exist_ok=True)
    args.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    prepare_like_serve(args.dsn)
    pg_version, total = asyncio.run(database_facts(args.dsn, args.rows))
    env = environment(args, pg_version) | {
        "command": " ".join([Path(sys.executable).name, "-m", "bench.console_pages", *sys.argv[1:]])
    }
    job_id = ensure_error_job(args.dsn, args.errors, args.out, args.stamp)
    username = f"bench-{args.stamp.lower()}-admin"
    password = create_admin(args.dsn, username)
    server_env = clean_environment() | {
        "HUREN_DATABASE_URL": sqlalchemy_url(args.dsn),
        "HUREN_LOG_LEVEL": "warning",
        "HUREN_TOTP_ROLES": json.dumps(ADMIN_ROLES),
        # Budgets the run never reaches: the limiter's bookkeeping still runs, it never refuses.
        "HUREN_RATE_LIMIT_PER_MINUTE": str(UNLIMITED),
        "HUREN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": str(UNLIMITED),
    }
    server = HurenServe("huren", "huren serve", args.port, server_env, args.out / "console_pages.log", [])
    results: list[Measured] = []
    try:
        server.start()
        wait_ready(server, "/healthz", token="")
        client = Client(args.port)
        sign_in(client, username, password)
        values = asyncio.run(sample_values(args.dsn))
        for request in requests(client, values, job_id, args.errors):
            count = args.requests if request.in_budget else args.verify_requests
            warmup = args.warmup if request.in_budget else 1
            results.append(measure(client, request, count, warmup, args.budget_ms))
            r = results[-1]
            print(
                f"  {r.page} {r.label:<40} p50 {r.p50_ms:7.1f}  p95 {r.p95_ms:7.1f}  max {r.max_ms:7.1f} ms"
                + (" ⚠" if r.over_budget else ""),
                flush=True,
            )
    finally:
        server.stop()
    document = {
        "benchmark": "console_pages",
        "environment": env,
        "credentials_in_database": total,
        "import_job": job_id,
        "import_job_errors": args.errors,
        "timing": "client-measured on loopback, request sent to last byte read, one keep-alive connection",
        "budget_ms": args.budget_ms,
        "results": [asdict(r) for r in results],
        "over_budget": [f"{r.page} {r.label}" for r in results if r.over_budget],
    }
    path = args.out / f"console_pages-{args.stamp}.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print("\n" + markdown(results, args.budget_ms))
    print(f"results in {path}")
    if os.environ.get("BENCH_STRICT") and document["over_budget"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
