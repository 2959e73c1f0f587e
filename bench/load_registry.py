"""Creates the PostgreSQL benchmark database and loads N credentials with set-based SQL.

    .venv/bin/python -m bench.load_registry [--rows 1000000] [--dsn postgresql://postgres@127.0.0.1:5432/huren_bench]

The database is dropped and created, migrated to head with the app's own migrations, given the shipped
reference data, then filled with `INSERT … SELECT … FROM generate_series` in chunks. Every value is a pure
function of the row number `i`, so the wrk script (bench/wrk_random_get.lua) can compute a valid URL from a
random `i` alone:

    number = "B" + i zero-padded to 9 digits
    kind   = title if i % 20 < 8, skill if i % 20 < 15, else card      (40 % / 35 % / 25 %)
    region = SC if i is even, else CQ

Keep `credential_path` below and the Lua script in step.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app.db import create_engine, create_sessionmaker
from app.demo import OCCUPATIONS
from app.domain.uscc import compute_uscc_check
from app.migrate import upgrade_database
from app.reference.seed import seed_reference_data
from app.settings import Settings

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/huren_bench"
DEFAULT_ROWS = 1_000_000
CHUNK = 250_000

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程欧阳"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国志红文斌宇浩然欣怡子涵梓轩俊熙"
COUNTIES = [
    "510104",
    "510105",
    "510106",
    "510107",
    "510108",
    "510112",
    "510302",
    "510703",
    "500101",
    "500103",
    "500104",
    "500105",
    "500106",
    "500112",
]
SPECIALTIES = ["机械工程", "临床医学", "计算机应用", "会计", "土木工程"]
# (region, name, level, 8-character organisation code stem). Ids 1-4 are SC, 5-7 CQ (see issuer_id below).
ISSUERS = [
    ("SC", "四川省人力资源和社会保障厅", "province", "00802001"),
    ("SC", "成都市人力资源和社会保障局", "city", "00802002"),
    ("SC", "绵阳市人力资源和社会保障局", "city", "00802003"),
    ("SC", "成都市锦江区人力资源和社会保障局", "district", "00802004"),
    ("CQ", "重庆市人力资源和社会保障局", "province", "00902001"),
    ("CQ", "重庆市渝中区人力资源和社会保障局", "district", "00902002"),
    ("CQ", "重庆市万州区人力资源和社会保障局", "district", "00902003"),
]

HOLDERS_SQL = """
INSERT INTO holders (id, id_type, id_hash, id_cipher, id_masked, name, birth_date, sex, created_at)
SELECT j,
       'resident_id',
       decode(md5('holder-a-' || j) || md5('holder-b-' || j), 'hex'),
       'bench.v1.' || md5('cipher-' || j) || md5('nonce-' || j),
       ($3::text[])[1 + j % cardinality($3::text[])] || '********'
           || lpad((j % 1000)::text, 3, '0') || substr('0123456789X', 1 + (j % 11)::int, 1),
       substr($4::text, 1 + (j % char_length($4::text))::int, 1)
           || substr($5::text, 1 + (j * 7 % char_length($5::text))::int, 1)
           || CASE WHEN j % 3 = 0 THEN ''
                   ELSE substr($5::text, 1 + (j * 13 % char_length($5::text))::int, 1) END,
       DATE '1960-01-01' + (j * 7919 % 14600)::int,
       CASE WHEN j % 2 = 1 THEN 'male' ELSE 'female' END,
       now()
FROM generate_series($1::bigint, $2::bigint) AS g(j)
"""

CREDENTIALS_SQL = """
WITH ref AS (
    SELECT (SELECT array_agg(code ORDER BY code) FROM title_codes) AS titles,
           (SELECT array_agg(code ORDER BY code) FROM card_classes
            WHERE system_code = 'sc-tianfu') AS sc_classes,
           (SELECT array_agg(code ORDER BY code) FROM card_classes
            WHERE system_code = 'cq-yingcai') AS cq_classes,
           (SELECT array_agg(code ORDER BY code) FROM card_services
            WHERE system_code = 'sc-tianfu') AS sc_services,
           (SELECT array_agg(code ORDER BY code) FROM card_services
            WHERE system_code = 'cq-yingcai') AS cq_services
)
INSERT INTO credentials (
    id, kind, region_code, number, holder_id, issuer_id, status, status_reason, status_changed_at,
    issued_on, valid_from, valid_until, version, supersedes_id, created_at, updated_at,
    title_code, specialty, obtained_on, approval_no, review_body,
    occupation_code, occupation_name, skill_level, work_type, number_format,
    card_system, card_class, entitlements)
SELECT g.i, d.kind, d.region, 'B' || lpad(g.i::text, 9, '0'),
       (g.i - 1) % $3 + 1,
       CASE WHEN d.region = 'SC' THEN 1 + (g.i / 2) % 4 ELSE 5 + (g.i / 2) % 3 END,
       d.status,
       CASE WHEN d.status <> 'active' THEN '材料核查' END,
       CASE WHEN d.status <> 'active' THEN now() END,
       d.issued,
       CASE WHEN d.kind = 'card' THEN d.issued END,
       CASE WHEN d.kind = 'card' THEN d.issued + 5 * 365 END,
       1, NULL, now(), now(),
       CASE WHEN d.kind = 'title' THEN r.titles[1 + g.i % cardinality(r.titles)] END,
       CASE WHEN d.kind = 'title' THEN ($4::text[])[1 + g.i % cardinality($4::text[])] END,
       CASE WHEN d.kind = 'title' THEN d.issued - 60 END,
       CASE WHEN d.kind = 'title'
            THEN '人社职评〔' || extract(year FROM d.issued)::int || '〕' || (1 + g.i % 98) || '号' END,
       CASE WHEN d.kind = 'title' AND d.region = 'SC' THEN '四川省工程技术人员职称评审委员会'
            WHEN d.kind = 'title' THEN '重庆市工程技术人员职称评审委员会' END,
       CASE WHEN d.kind = 'skill' THEN ($5::text[])[1 + g.i % cardinality($5::text[])] END,
       CASE WHEN d.kind = 'skill' THEN ($6::text[])[1 + g.i % cardinality($6::text[])] END,
       CASE WHEN d.kind = 'skill' THEN 1 + (g.i / 20) % 5 END,
       NULL,
       CASE WHEN d.kind = 'skill' THEN 'national-2020' END,
       CASE WHEN d.kind = 'card' AND d.region = 'SC' THEN 'sc-tianfu'
            WHEN d.kind = 'card' THEN 'cq-yingcai' END,
       CASE WHEN d.kind = 'card' AND d.region = 'SC'
            THEN r.sc_classes[1 + (g.i / 2) % cardinality(r.sc_classes)]
            WHEN d.kind = 'card' THEN r.cq_classes[1 + (g.i / 2) % cardinality(r.cq_classes)] END,
       CASE WHEN d.kind = 'card' AND d.region = 'SC'
            THEN jsonb_build_array(r.sc_services[1 + g.i % cardinality(r.sc_services)],
                                   r.sc_services[1 + (g.i + 1) % cardinality(r.sc_services)],
                                   r.sc_services[1 + (g.i + 2) % cardinality(r.sc_services)])
            WHEN d.kind = 'card'
            THEN jsonb_build_array(r.cq_services[1 + g.i % cardinality(r.cq_services)],
                                   r.cq_services[1 + (g.i + 1) % cardinality(r.cq_services)],
                                   r.cq_services[1 + (g.i + 2) % cardinality(r.cq_services)]) END
FROM generate_series($1::bigint, $2::bigint) AS g(i)
CROSS JOIN ref AS r
CROSS JOIN LATERAL (
    SELECT CASE WHEN g.i % 20 < 8 THEN 'title' WHEN g.i % 20 < 15 THEN 'skill' ELSE 'card' END AS kind,
           CASE WHEN g.i % 2 = 0 THEN 'SC' ELSE 'CQ' END AS region,
           CASE WHEN g.i % 50 = 37 THEN 'suspended' WHEN g.i % 100 = 74 THEN 'revoked' ELSE 'active' END
               AS status,
           DATE '2016-01-01' + (g.i * 7919 % 3650)::int AS issued
) AS d
"""


async def count_credential(conn: asyncpg.Connection, i: int) -> int:
    """How many rows sit where the wrk scripts look for bench row i (1 when loaded)."""
    kind, region, number = credential_path(i).rsplit("/", 3)[1:]
    sql = "SELECT count(*) FROM credentials WHERE kind = $1 AND region_code = $2 AND number = $3"
    return int(await conn.fetchval(sql, kind, region, number))


def credential_path(i: int) -> str:
    """The GET path of credential number i (the same rule as bench/wrk_random_get.lua)."""
    kind = "title" if i % 20 < 8 else "skill" if i % 20 < 15 else "card"
    region = "SC" if i % 2 == 0 else "CQ"
    return f"/v1/credentials/{kind}/{region}/B{i:09d}"


def sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


def maintenance_dsn(dsn: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/postgres"))


def make_usci(region: str, stem: str) -> str:
    body = f"11{'510000' if region == 'SC' else '500000'}{stem}0"
    return body + compute_uscc_check(body)


async def recreate_database(dsn: str) -> None:
    name = database_name(dsn)
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing odd database name {name!r}")
    conn = await asyncpg.connect(maintenance_dsn(dsn))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def migrate_and_seed(dsn: str) -> dict[str, int]:
    """Exactly what `huren db upgrade` does: the app's migrations to head, then its reference data."""
    engine = create_engine(Settings(database_url=sqlalchemy_url(dsn)))
    try:
        await upgrade_database(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            return await seed_reference_data(session)
    finally:
        await engine.dispose()


async def load_rows(dsn: str, rows: int, per_holder: int) -> None:
    holders = (rows + per_holder - 1) // per_holder
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO organisations (id, usci, name, region_code, level, created_at)"
            " VALUES ($1, $2, $3, $4, $5, now())",
            [
                (n, make_usci(region, stem), name, region, level)
                for n, (region, name, level, stem) in enumerate(ISSUERS, start=1)
            ],
        )
        started = time.perf_counter()
        for lo in range(1, holders + 1, CHUNK):
            hi = min(lo + CHUNK - 1, holders)
            await conn.execute(HOLDERS_SQL, lo, hi, COUNTIES, SURNAMES, GIVEN)
            print(f"  holders {hi:>9,}/{holders:,}  {time.perf_counter() - started:6.1f} s", flush=True)
        started = time.perf_counter()
        for lo in range(1, rows + 1, CHUNK):
            hi = min(lo + CHUNK - 1, rows)
            await conn.execute(
                CREDENTIALS_SQL,
                lo,
                hi,
                holders,
                SPECIALTIES,
                [code for code, _ in OCCUPATIONS],
                [name for _, name in OCCUPATIONS],
            )
            print(f"  credentials {hi:>9,}/{rows:,}  {time.perf_counter() - started:6.1f} s", flush=True)
        for table in ("organisations", "holders", "credentials"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        started = time.perf_counter()
        # VACUUM sets hint bits and the visibility map now, so the first benchmark reads do not write.
        await conn.execute("VACUUM (ANALYZE) organisations, holders, credentials")
        print(f"  vacuum analyze {time.perf_counter() - started:6.1f} s", flush=True)
    finally:
        await conn.close()


async def check_sample(dsn: str, rows: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for i in sorted({1, 2, 8, 15, rows // 2, rows}):
            if await count_credential(conn, i) != 1:
                raise SystemExit(f"credential {i} is not where the wrk script will look for it")
        by_kind = await conn.fetch("SELECT kind, count(*) AS n FROM credentials GROUP BY kind ORDER BY kind")
        print("  " + ", ".join(f"{r['kind']}: {r['n']:,}" for r in by_kind))
    finally:
        await conn.close()


async def load(dsn: str, rows: int, per_holder: int) -> float:
    started = time.perf_counter()
    await recreate_database(dsn)
    seeded = await migrate_and_seed(dsn)
    print(f"migrated to head, reference rows: {sum(seeded.values())}", flush=True)
    await load_rows(dsn, rows, per_holder)
    await check_sample(dsn, rows)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="libpq URL of the database to (re)create")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="credentials to load")
    parser.add_argument("--per-holder", type=int, default=2, help="credentials per holder")
    args = parser.parse_args()
    elapsed = asyncio.run(load(args.dsn, args.rows, args.per_holder))
    print(f"loaded {args.rows:,} credentials into {database_name(args.dsn)} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
