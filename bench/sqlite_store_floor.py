"""What SQLite alone needs to store N title rows in the schema an import writes to (bench.store_floor's
SQLite counterpart): a migrated database file, the rows made inside SQLite (a recursive CTE, a SHA-256
standing for the keyed hash; not timed), then one `INSERT … SELECT` into `holders` and one into `credentials`
in the import's statement shape (`ON CONFLICT`), with the connection settings the service uses, all indexes
and foreign keys on, in one transaction. No line is split, staged or joined: the import's commit cannot store
a row for less. `--cache-mib` is the page cache (the streamed import commit's is 16 MiB).

    .venv/bin/python -m bench.sqlite_store_floor --rows 1000000 [--cache-mib 16]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOLDERS = """
INSERT INTO holders (id, id_type, id_hash, id_cipher, id_masked, name, birth_date, sex, created_at)
SELECT 1000000 + i, 'resident_id', hx, 'v1:' || hx, '5101**********1234', '张' || char(19968 + i % 2000),
    '1980-01-01', 'F', '2026-01-01 00:00:00.000000'
FROM temp.source ORDER BY i ON CONFLICT (id_hash) DO NOTHING
"""
CREDENTIALS = """
INSERT INTO credentials (kind, region_code, number, holder_id, issuer_id, status, issued_on, version,
    import_job_id, created_at, updated_at, title_code, specialty, obtained_on, approval_no, review_body)
SELECT 'title', 'SC', 'F' || printf('%09d', i), 1000000 + i, 901 + i % 5, 'active', '2022-06-01', 1,
    '0123456789abcdef0123456789abcdef', '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', '0501',
    '机械工程', '2022-03-15', '川人社职评〔2022〕12号', '评审委员会'
FROM temp.source ORDER BY i
ON CONFLICT (kind, region_code, number) DO UPDATE SET title_code = excluded.title_code
WHERE credentials.title_code IS NOT excluded.title_code
"""


def migrated_database(path: Path) -> None:
    """`huren db upgrade` on a new file, as the service makes one."""
    huren = str(Path(sys.executable).with_name("huren"))
    env = {"HUREN_DATABASE_URL": f"sqlite+aiosqlite:///{path}", "PATH": "/usr/bin:/bin"}
    subprocess.run([huren, "db", "upgrade"], env=env, check=True, capture_output=True)


def measure(path: Path, rows: int, cache_mib: int) -> dict[str, float]:
    db = sqlite3.connect(path)
    # The service's connection settings (app/db.py), and the import commit's page cache.
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL", "recursive_triggers=ON"):
        db.execute(f"PRAGMA {pragma}")
    db.execute(f"PRAGMA cache_size = {-1024 * cache_mib}")
    db.create_function("sha", 1, lambda i: hashlib.sha256(str(i).encode()).hexdigest(), deterministic=True)
    db.execute(
        "CREATE TEMP TABLE source AS WITH RECURSIVE s(i) AS"
        " (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) SELECT i, sha(i) AS hx FROM s",
        (rows,),
    )
    db.execute(
        "INSERT INTO organisations (id, usci, name, region_code, level, created_at)"
        " SELECT 900 + value, '91510000000000000' || value, '评审机构' || value, 'SC', 'province',"
        " '2026-01-01' FROM json_each('[1, 2, 3, 4, 5]')"
    )
    db.commit()
    started = time.perf_counter()
    db.execute(HOLDERS)
    holders_done = time.perf_counter()
    db.execute(CREDENTIALS)
    credentials_done = time.perf_counter()
    db.commit()
    committed = time.perf_counter()
    db.close()
    return {
        "holders_us_per_row": (holders_done - started) / rows * 1e6,
        "credentials_us_per_row": (credentials_done - holders_done) / rows * 1e6,
        "commit_s": committed - credentials_done,
        "total_us_per_row": (committed - started) / rows * 1e6,
        "rows_per_s": rows / (committed - started),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cache-mib", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "floor.db"
        migrated_database(path)
        figures = measure(path, args.rows, args.cache_mib)
    print(
        json.dumps(
            {"rows": args.rows, "cache_mib": args.cache_mib, "sqlite": sqlite3.sqlite_version, **figures}
        )
    )


if __name__ == "__main__":
    main()
