"""Backup and restore of a PostgreSQL node, as README's "Backup and restore" tells an operator to do it:
`pg_dump -Fc`, `pg_restore` into a NEW database, `huren serve` on it with the SAME HUREN_DATA_KEY.

Afterwards the audit chain verifies, the signing keys decrypt (JWKS served, new receipts signed), receipts and
card tokens issued before the backup verify, the status lists are published again from the restored rows (a
suspended card is still suspended); with another HUREN_DATA_KEY the node refuses to start and says why.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import POSTGRES_URL
from tests.processes import fetch_token, free_port, huren_env, run_huren, serve
from tests.support.node_databases import postgres_database, psql_args

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(POSTGRES_URL is None, reason="pg_dump and pg_restore need HUREN_TEST_DATABASE_URL"),
]


def new_data_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def verify_signed(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The token's claims, its signature checked against the JWKS (the key its kid names)."""
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=[header["alg"]],
        options={"verify_aud": False, "verify_exp": False},
    )
    return claims


def card_token(server: str, headers: dict[str, str], number: str) -> str:
    issued = httpx.post(f"{server}/v1/cards/SC/{number}/token", headers=headers)
    assert issued.status_code == 200, issued.text
    token: str = issued.json()["token"]
    return token


def verify_card(server: str, headers: dict[str, str], number: str) -> str:
    answer = httpx.post(
        f"{server}/v1/verify",
        json={"kind": "card", "region": "SC", "number": number, "name": "nobody"},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    receipt: str = answer.json()["receipt"]
    return receipt


def check_card_token(server: str, headers: dict[str, str], token: str) -> str:
    answer = httpx.post(f"{server}/v1/verify/card-token", json={"token": token}, headers=headers)
    assert answer.status_code == 200, answer.text
    outcome: str = answer.json()["outcome"]
    return outcome


def reveal(server: str, headers: dict[str, str], number: str) -> str:
    """The holder's ID number in clear (admin), decrypted with HUREN_DATA_KEY."""
    answer = httpx.post(f"{server}/v1/credentials/card/SC/{number}/holder/reveal", headers=headers)
    assert answer.status_code == 200, answer.text
    id_number: str = answer.json()["id_number"]
    return id_number


def test_a_dump_restored_into_a_new_database_serves_as_before(tmp_path: Path) -> None:
    assert POSTGRES_URL is not None
    port = free_port()
    keys = {
        "HUREN_DATA_KEY": new_data_key(),
        "HUREN_LOOKUP_KEY": secrets.token_urlsafe(32),
        "HUREN_PUBLIC_URL": f"http://127.0.0.1:{port}",  # the restored node takes the old one's place
        "HUREN_KEY_REFRESH_SECONDS": "1",
        "HUREN_IMPORT_DIR": str(tmp_path / "imports"),
    }
    dump = tmp_path / "node.dump"
    with postgres_database(POSTGRES_URL, "backup_src") as source_url:
        source = {**huren_env(tmp_path / "unused.db", **keys), "HUREN_DATABASE_URL": source_url}
        loaded = run_huren(source, "demo")
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        with serve(source, port, tmp_path / "source.log") as server:
            headers = {"Authorization": f"Bearer {fetch_token(server, 'demo-admin', 'demo-admin-secret')}"}
            cards = httpx.get(
                f"{server}/v1/credentials",
                params={"kind": "card", "region": "SC", "status": "active", "limit": 2},
                headers=headers,
            ).json()["items"]
            kept, suspended = cards[0]["number"], cards[1]["number"]
            old_receipt = verify_card(server, headers, kept)
            revealed_before = reveal(server, headers, kept)
            kept_token = card_token(server, headers, kept)
            suspended_token = card_token(server, headers, suspended)
            changed = httpx.post(
                f"{server}/v1/credentials/card/SC/{suspended}/status",
                json={"status": "suspended", "reason": "backup test"},
                headers=headers,
            )
            assert changed.status_code == 200, changed.text
            rotated = run_huren(source, "keys", "rotate")
            assert rotated.returncode == 0, rotated.stdout
            time.sleep(1.5)  # HUREN_KEY_REFRESH_SECONDS; the token endpoint reloads the keys
            headers = {"Authorization": f"Bearer {fetch_token(server, 'demo-admin', 'demo-admin-secret')}"}
            newer_receipt = verify_card(server, headers, kept)
            old_kid = jwt.get_unverified_header(old_receipt)["kid"]
            assert jwt.get_unverified_header(newer_receipt)["kid"] != old_kid
        # The backup: custom format, while nothing writes (a live node may be dumped too: pg_dump reads one
        # consistent snapshot).
        dumped = subprocess.run(
            ["pg_dump", "-Fc", "--no-owner", "-f", str(dump), *psql_args(source_url)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert dumped.returncode == 0, dumped.stderr

    # The source database is gone: only the dump remains.
    with postgres_database(POSTGRES_URL, "backup_restored") as restored_url:
        restored = subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", *psql_args(restored_url), str(dump)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert restored.returncode == 0, restored.stderr
        node = {**huren_env(tmp_path / "unused.db", **keys), "HUREN_DATABASE_URL": restored_url}

        audit = run_huren(node, "audit", "verify")
        assert audit.returncode == 0, audit.stdout
        assert "audit chain intact" in audit.stdout

        # Another data key: the node refuses to start and says why.
        wrong = {**node, "HUREN_DATA_KEY": new_data_key()}
        refused = run_huren(wrong, "serve", "--host", "127.0.0.1", "--port", str(free_port()))
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "HUREN_DATA_KEY does not decrypt" in refused.stdout
        assert "Traceback" not in refused.stdout + refused.stderr

        with serve(node, port, tmp_path / "restored.log") as server:
            headers = {"Authorization": f"Bearer {fetch_token(server, 'demo-admin', 'demo-admin-secret')}"}
            jwks = httpx.get(f"{server}/.well-known/jwks.json").json()
            assert len(jwks["keys"]) == 2
            # Receipts from before the backup verify against the restored node's keys, under both kids.
            for receipt in (old_receipt, newer_receipt):
                assert verify_signed(receipt, jwks)["iss"] == server
            # The private key decrypts: new receipts are signed, with the newest key.
            fresh = verify_card(server, headers, kept)
            assert verify_signed(fresh, jwks)
            assert jwt.get_unverified_header(fresh)["kid"] == jwt.get_unverified_header(newer_receipt)["kid"]
            # Card tokens from before the backup verify; the status lists are built again from the restored
            # rows: the suspended card is still suspended.
            assert check_card_token(server, headers, kept_token) == "valid"
            assert check_card_token(server, headers, suspended_token) == "suspended"
            for purpose in ("suspension", "revocation"):
                listed = httpx.get(f"{server}/v1/status-lists/SC/{purpose}")
                assert listed.status_code == 200, listed.text
                assert verify_signed(listed.text, jwks)
            # ID numbers sealed with the data key open again: an admin's reveal gives the same number.
            assert reveal(server, headers, kept) == revealed_before
        log = (tmp_path / "restored.log").read_text()
        assert "Traceback" not in log, log[-2000:]
    assert json.loads(json.dumps(jwks))  # the JWKS is plain JSON, publishable as is
