"""Offline card-token verifications per second on one core, against openbadgeslib's verifier; and the time to
publish a status list for 1,000,000 cards.

    .venv/bin/pip install -e ".[bench]"    # openbadgeslib: the yardstick, not a dependency of the service
    .venv/bin/python -m bench.card_verify --dsn postgresql://postgres@127.0.0.1:5432/huren_bench_10m

Part 1 runs in this one process, single-threaded: huren's `app.cards.offline.verify_card_token` on a card
token (ES256, with both status-list look-ups against 131,072-entry lists), and openbadgeslib's
`OB3Verifier.verify` on an OpenBadges 3.0 JWT-VC signed with an ES256 key (signature, structure, validity
window; its status check needs the network, so it is off). The two alternate in rounds; each figure is the
median of the rounds, CPU time from `time.process_time`.

Part 2 needs a database loaded by bench/load_registry.py with at least 1,000,000 cards in one region (the
10,000,000-row load has 1,250,000 SC cards). It gives 1,000,000 of them a status-list index, then times
`StatusListPublisher.current` from cold: the query of revoked/suspended indices, the bitstring, GZIP,
base64url and the ES256 signature.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.cards.offline import verify_card_token
from app.cards.status_list import MIN_ENTRIES, Bitstring
from app.cards.tokens import CardFacts, StatusRef, card_claims, status_list_url
from bench.load_registry import sqlalchemy_url

BENCH_DIR = Path(__file__).resolve().parent
ISSUER = "https://sc.huren.example"


def our_case() -> tuple[Callable[[], Any], int]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", alg="ES256", use="sig")
    refs = StatusRef(
        4242, status_list_url(ISSUER, "SC", "revocation"), status_list_url(ISSUER, "SC", "suspension")
    )
    card = CardFacts("SCYC2025A00042", "SC", "sc-tianfu", "A", "张*", date(2025, 1, 1), date(2099, 12, 31))
    claims = card_claims(
        card, refs, issuer=ISSUER, issued_at=datetime.now(UTC), max_ttl=timedelta(days=1000), jti="j" * 32
    )
    token = jwt.encode(claims, key, algorithm="ES256", headers={"typ": "huren-card+jwt", "kid": "k1"})
    lists = {refs.revocation_url: Bitstring(MIN_ENTRIES), refs.suspension_url: Bitstring(MIN_ENTRIES)}
    lists[refs.revocation_url].set_many(random.sample(range(MIN_ENTRIES), 1000))
    jwks = {"keys": [jwk]}

    def run() -> Any:
        result = verify_card_token(token, jwks, lists, issuers={ISSUER})
        assert result.outcome in ("valid", "revoked")
        return result

    return run, len(token)


def openbadges_case() -> tuple[Callable[[], Any], int]:
    from openbadgeslib.ob3.credential import Achievement, Issuer, OpenBadgeCredential
    from openbadgeslib.ob3.signer import OB3Signer
    from openbadgeslib.ob3.verifier import OB3Verifier

    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    credential = OpenBadgeCredential(
        issuer=Issuer(id=ISSUER, name="四川省人力资源和社会保障厅"),
        recipient_id="did:example:holder",
        achievement=Achievement(
            id=f"{ISSUER}/cards/A", name="天府英才卡A卡", description="talent card", criteria_narrative="-"
        ),
        id=f"{ISSUER}/cards/SCYC2025A00042",
        issuance_date=datetime(2025, 1, 1, tzinfo=UTC),
        expiration_date=datetime(2099, 12, 31, tzinfo=UTC),
    )
    token = OB3Signer(private_pem, algorithm="ES256").sign(credential)
    verifier = OB3Verifier(public_pem)

    def run() -> Any:
        return verifier.verify(token)

    return run, len(token)


def rate(run: Callable[[], Any], seconds: float) -> tuple[float, float]:
    """(verifications per wall second, per CPU second) over `seconds` of back-to-back calls."""
    count, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < seconds:
        for _ in range(50):
            run()
        count += 50
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return count / wall, count / cpu


def offline_throughput(rounds: int, seconds: float) -> dict[str, Any]:
    ours, our_length = our_case()
    theirs, their_length = openbadges_case()
    for run in (ours, theirs):  # warm caches, import paths
        rate(run, 0.5)
    results: dict[str, list[tuple[float, float]]] = {"huren": [], "openbadgeslib": []}
    for round_ in range(rounds):
        order = [("huren", ours), ("openbadgeslib", theirs)]
        for name, run in order if round_ % 2 == 0 else reversed(order):
            results[name].append(rate(run, seconds))
            print(f"round {round_ + 1} {name:>14}: {results[name][-1][0]:8,.0f}/s wall", flush=True)
    summary: dict[str, Any] = {
        name: {
            "per_wall_second": statistics.median(r[0] for r in runs),
            "per_cpu_second": statistics.median(r[1] for r in runs),
            "rounds": [round(r[0]) for r in runs],
        }
        for name, runs in results.items()
    }
    summary["token_length"] = {"huren": our_length, "openbadgeslib": their_length}
    summary["ratio_wall"] = summary["huren"]["per_wall_second"] / summary["openbadgeslib"]["per_wall_second"]
    return summary


async def assign_indices(dsn: str, region: str, cards: int, capacity: int) -> None:
    """Give `cards` cards of the region a random, distinct index (as token issuance would), once."""
    conn = await asyncpg.connect(dsn)
    try:
        have = await conn.fetchval("SELECT count(*) FROM status_list_entries WHERE region_code = $1", region)
        if have >= cards:
            return
        await conn.execute("DELETE FROM status_list_entries WHERE region_code = $1", region)
        await conn.execute(
            "INSERT INTO status_lists (region_code, capacity, revision, updated_at) VALUES ($1, $2, 0, now())"
            " ON CONFLICT (region_code) DO UPDATE SET capacity = $2, revision = status_lists.revision + 1",
            region,
            capacity,
        )
        ids = await conn.fetch(
            "SELECT id FROM credentials WHERE kind = 'card' AND region_code = $1 ORDER BY id LIMIT $2",
            region,
            cards,
        )
        indices = random.sample(range(capacity), len(ids))
        await conn.copy_records_to_table(
            "status_list_entries",
            records=[
                (row["id"], region, index, datetime.now(UTC)) for row, index in zip(ids, indices, strict=True)
            ],
            columns=["credential_id", "region_code", "list_index", "created_at"],
        )
        # The loader revokes and suspends no SC card: give 1 % of them each status, as a registry would have.
        picked = random.sample([row["id"] for row in ids], len(ids) // 50)
        half = len(picked) // 2
        for status, chosen in (("revoked", picked[:half]), ("suspended", picked[half:])):
            await conn.execute(
                "UPDATE credentials SET status = $1 WHERE id = ANY($2::bigint[])", status, chosen
            )
        await conn.execute("ANALYZE status_list_entries")
    finally:
        await conn.close()


async def publication_time(dsn: str, region: str, runs: int) -> dict[str, Any]:
    from app.cards.publisher import StatusListPublisher
    from app.db import create_engine, create_read_engine
    from app.keys import KeyStore
    from app.privacy import decode_key
    from app.settings import Settings

    settings = Settings(database_url=sqlalchemy_url(dsn))
    engine = create_engine(settings)
    reads = create_read_engine(engine, settings, 2)
    keys = KeyStore(decode_key(settings.data_key.get_secret_value()), 60)
    await keys.load(engine.begin)
    publisher = StatusListPublisher(
        reads=reads.connect, keys=keys, issuer=ISSUER, ttl=timedelta(minutes=5), valid_for=timedelta(days=7)
    )
    timings: dict[str, list[float]] = {"revocation": [], "suspension": []}
    sizes: dict[str, Any] = {}
    try:
        for _ in range(runs):
            for purpose in timings:
                publisher.invalidate(region)
                started = time.perf_counter()
                published = await publisher.current(region, purpose)
                timings[purpose].append(time.perf_counter() - started)
                sizes[purpose] = {
                    "entries": published.bits.size,
                    "bits_set": published.bits.count(),
                    "signed_list_bytes": len(published.token),
                }
    finally:
        await reads.dispose()
        await engine.dispose()
    return {
        purpose: {
            "median_seconds": statistics.median(values),
            "runs": [round(v, 3) for v in values],
            **sizes[purpose],
        }
        for purpose, values in timings.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", help="a loaded bench database for the publication part (skipped without)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--region", default="SC")
    args = parser.parse_args()
    document: dict[str, Any] = {
        "benchmark": "card_verify",
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python -m bench.card_verify " + " ".join(sys.argv[1:]),
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }
    document["offline"] = offline_throughput(args.rounds, args.seconds)
    if args.dsn:
        capacity = 1 << (2 * args.cards - 1).bit_length()  # at least twice the cards, as issuance keeps it
        asyncio.run(assign_indices(args.dsn, args.region, args.cards, capacity))
        document["publication"] = asyncio.run(publication_time(args.dsn, args.region, args.rounds))
    out = BENCH_DIR / "out" / f"card_verify-{document['date_utc'].replace(':', '')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: document[k] for k in ("offline", "publication") if k in document}, indent=2))
    print(f"results in {out.relative_to(BENCH_DIR.parent)}")


if __name__ == "__main__":
    main()
