"""The `huren` command as a newcomer runs it: real processes, a SQLite file, a real server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import jwt
import pytest

from app.demo import build_new_level_payloads
from tests.processes import demo_passwords, fetch_token, free_port, huren_env, run_huren, serve


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return huren_env(tmp_path_factory.mktemp("cli") / "cli.db", HUREN_KEY_REFRESH_SECONDS="1")


@pytest.fixture(scope="module")
def demo_output(cli_env: dict[str, str]) -> str:
    first = run_huren(cli_env, "demo")
    assert first.returncode == 0, first.stderr[-2000:]
    return first.stdout


def test_db_upgrade_is_repeatable(cli_env: dict[str, str]) -> None:
    for _ in range(2):
        result = run_huren(cli_env, "db", "upgrade")
        assert result.returncode == 0, result.stderr[-2000:]
        assert "database at head" in result.stdout


def test_demo_loads_once_and_prints_how_to_use_it(cli_env: dict[str, str], demo_output: str) -> None:
    assert "/docs" in demo_output
    assert "demo-admin-secret" in demo_output
    assert "/counter" in demo_output
    assert "/admin" in demo_output
    first = demo_passwords(demo_output)
    assert set(first) == {"demo.clerk", "demo.admin"}
    again = run_huren(cli_env, "demo")
    assert again.returncode == 0
    assert "│ created   │           0 │" in again.stdout
    # A re-run cannot show the old passwords (kept hashed only): it gives the demo people new ones.
    second = demo_passwords(again.stdout)
    assert set(second) == set(first)
    assert all(second[name] != first[name] for name in first)


@pytest.fixture(scope="module")
def server(
    cli_env: dict[str, str], demo_output: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with serve(cli_env, free_port(), tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


def test_serve_answers_with_the_demo_data(server: str) -> None:
    assert httpx.get(f"{server}/readyz").json() == {"status": "ready"}
    headers = {"Authorization": f"Bearer {fetch_token(server, 'demo-admin', 'demo-admin-secret')}"}
    page = httpx.get(
        f"{server}/v1/credentials", params={"kind": "card", "region": "CQ", "limit": 5}, headers=headers
    ).json()
    assert len(page["items"]) == 5
    first = page["items"][0]
    one = httpx.get(f"{server}/v1/credentials/card/CQ/{first['number']}", headers=headers)
    assert one.status_code == 200
    assert one.json()["holder"]["id_number_masked"].startswith("500")
    assert "********" in one.json()["holder"]["id_number_masked"]
    assert httpx.get(f"{server}/v1/credentials").status_code == 401


def test_the_demo_holds_certificates_of_the_new_skill_levels(server: str) -> None:
    headers = {"Authorization": f"Bearer {fetch_token(server, 'demo-admin', 'demo-admin-secret')}"}
    names = {}
    for region in ("SC", "CQ"):
        for payload in build_new_level_payloads(region):
            answer = httpx.get(f"{server}/v1/credentials/skill/{region}/{payload['number']}", headers=headers)
            assert answer.status_code == 200, answer.text
            record = answer.json()
            assert (record["status"], record["number_format"]) == ("active", "national-eight-level")
            names[(region, record["level"])] = record["level_name"]
    assert names == {("SC", 7): "特级技师", ("SC", 6): "学徒工", ("CQ", 7): "特级技师", ("CQ", 6): "学徒工"}


def test_an_unset_public_url_is_the_served_one(cli_env: dict[str, str], server: str) -> None:
    """Without HUREN_PUBLIC_URL (cli_env sets none) the node names the port it serves on, not 8000: in token
    and receipt issuers and in the status-list URLs inside card tokens."""
    assert "HUREN_PUBLIC_URL" not in cli_env
    token = fetch_token(server, "demo-admin", "demo-admin-secret")
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == server
    headers = {"Authorization": f"Bearer {token}"}
    card = httpx.get(
        f"{server}/v1/credentials",
        params={"kind": "card", "region": "SC", "status": "active", "limit": 1},
        headers=headers,
    ).json()["items"][0]
    issued = httpx.post(f"{server}/v1/cards/SC/{card['number']}/token", headers=headers)
    claims = jwt.decode(issued.json()["token"], options={"verify_signature": False})
    assert claims["iss"] == server
    list_urls = re.findall(r"https?://[^\"' ]+/v1/status-lists/[A-Z]{2}/\w+", json.dumps(claims))
    assert list_urls, claims
    assert all(url.startswith(f"{server}/") for url in list_urls)
    answer = httpx.post(
        f"{server}/v1/verify",
        json={"kind": "card", "region": "SC", "number": card["number"], "name": "nobody"},
        headers=headers,
    ).json()
    assert jwt.decode(answer["receipt"], options={"verify_signature": False})["iss"] == server


def test_readme_try_it_is_true(server: str) -> None:
    """README's "Try it" reads a card whose number comes from the list above it, and states the length of a
    card token as it is (within 5 %)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    try_it = readme.split("## Try it", 1)[1].split("```", 2)[1]
    listed = re.search(r"/v1/credentials\?kind=(\w+)&region=(\w+)", try_it)
    read = re.search(r"/v1/credentials/(\w+)/(\w+)/<number from the list>", try_it)
    assert listed, try_it
    assert read, try_it
    assert listed.groups() == read.groups(), try_it
    stated = re.search(r"huren-card\+jwt`, about ([\d,]+) characters", readme)
    assert stated, "README states the length of a card token"
    headers = {"Authorization": f"Bearer {fetch_token(server, 'demo-admin', 'demo-admin-secret')}"}
    lengths = []
    for region in ("SC", "CQ"):
        cards = httpx.get(
            f"{server}/v1/credentials",
            params={"kind": "card", "region": region, "status": "active", "limit": 5},
            headers=headers,
        ).json()["items"]
        for card in cards:
            issued = httpx.post(f"{server}/v1/cards/{region}/{card['number']}/token", headers=headers)
            lengths.append(len(issued.json()["token"]))
    typical = sorted(lengths)[len(lengths) // 2]
    assert abs(typical - int(stated.group(1).replace(",", ""))) <= typical / 20, lengths


def test_clients_create_list_disable(cli_env: dict[str, str], server: str) -> None:
    created = run_huren(
        cli_env,
        "clients",
        "create",
        "--name",
        "Chongqing HR",
        "--region",
        "CQ",
        "--scopes",
        "verify registry:read",
        "--rate-limit",
        "100",
        "--json",
    )
    assert created.returncode == 0, created.stderr[-2000:]
    pair = json.loads(created.stdout)
    assert set(pair) == {"client_id", "client_secret"}
    token = fetch_token(server, pair["client_id"], pair["client_secret"])
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server}/v1/credentials?limit=1", headers=headers).status_code == 200
    listed = run_huren(cli_env, "clients", "list")
    assert pair["client_id"] in listed.stdout
    assert pair["client_secret"] not in listed.stdout
    assert run_huren(cli_env, "clients", "disable", pair["client_id"]).returncode == 0
    refused = httpx.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(pair["client_id"], pair["client_secret"]),
    )
    assert refused.status_code == 401


def test_clients_create_rejects_unknown_scope(cli_env: dict[str, str]) -> None:
    result = run_huren(cli_env, "clients", "create", "--name", "x", "--region", "CQ", "--scopes", "root")
    assert result.returncode == 2
    assert "unknown scopes: root" in result.stdout


def test_keys_rotate_keeps_old_tokens_valid(cli_env: dict[str, str], server: str) -> None:
    token = fetch_token(server, "demo-admin", "demo-admin-secret")
    before = httpx.get(f"{server}/.well-known/jwks.json").json()["keys"]
    assert run_huren(cli_env, "keys", "rotate").returncode == 0
    time.sleep(1.5)  # HUREN_KEY_REFRESH_SECONDS=1 in this environment
    after = httpx.get(f"{server}/.well-known/jwks.json").json()["keys"]
    assert len(after) == len(before) + 1
    assert {k["kid"] for k in before} < {k["kid"] for k in after}
    assert (
        httpx.get(
            f"{server}/v1/credentials?limit=1", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )
    fresh = fetch_token(server, "demo-admin", "demo-admin-secret")
    assert jwt.get_unverified_header(fresh)["kid"] == after[0]["kid"]


def test_audit_verify_finds_tampering(cli_env: dict[str, str], server: str, tmp_path: Path) -> None:
    fetch_token(server, "demo-admin", "demo-admin-secret")  # one more event: token.issued
    intact = run_huren(cli_env, "audit", "verify")
    assert intact.returncode == 0, intact.stdout
    assert "audit chain intact" in intact.stdout
    source = Path(cli_env["HUREN_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///"))
    copy = tmp_path / "copy.db"
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(copy)) as target:
        live.backup(target)
    with closing(sqlite3.connect(copy)) as conn, conn:  # closed, after the `with conn` commits
        conn.execute("UPDATE audit_events SET outcome = 'failure' WHERE seq = 2")
    tampered = run_huren({**cli_env, "HUREN_DATABASE_URL": f"sqlite+aiosqlite:///{copy}"}, "audit", "verify")
    assert tampered.returncode == 1
    assert "broken at event 2" in tampered.stdout


def test_import_from_the_shell_in_batches(cli_env: dict[str, str], tmp_path: Path) -> None:
    from tests.factories import title_payload
    from tests.imports.test_import import flatten, to_csv

    file = tmp_path / "titles.csv"
    file.write_bytes(to_csv("title", [flatten(title_payload()) for _ in range(45)]))
    env = {**cli_env, "HUREN_IMPORT_BATCH_ROWS": "10", "HUREN_IMPORT_DIR": str(tmp_path / "imports")}
    checked = run_huren(env, "import", str(file), "--kind", "title", "--validate-only")
    assert checked.returncode == 0, checked.stdout[-2000:]
    done = run_huren(env, "import", str(file), "--kind", "title")
    assert done.returncode == 0, done.stdout[-2000:]
    # status, rows, inserted, updated, unchanged, rejected
    assert re.search(r"succeeded\W+45\W+45\W+0\W+0\W+0\W", done.stdout), done.stdout[-1000:]
    again = run_huren(env, "import", str(file), "--kind", "title")
    assert re.search(r"succeeded\W+45\W+0\W+0\W+45\W+0\W", again.stdout), again.stdout[-1000:]


def test_import_permits_from_the_shell(cli_env: dict[str, str], tmp_path: Path) -> None:
    from tests.factories import permit_payload, title_payload
    from tests.imports.test_import import flatten, to_csv

    rows = [flatten(permit_payload(permit_class=c)) for c in ("A", "B", "C")]
    file = tmp_path / "permits.csv"
    file.write_bytes(to_csv("permit", rows))
    env = {**cli_env, "HUREN_IMPORT_DIR": str(tmp_path / "imports")}
    done = run_huren(env, "import", str(file), "--kind", "permit")
    assert done.returncode == 0, done.stdout[-2000:]
    assert re.search(r"succeeded\W+3\W+3\W+0\W+0\W+0\W", done.stdout), done.stdout[-1000:]
    # A permit held by a resident ID is refused, row by row, with the command's exit code 1.
    bad = tmp_path / "bad-permits.csv"
    resident = title_payload()["holder"]
    wrong_holder = {**flatten(permit_payload()), "holder_id_type": "resident_id"}
    wrong_holder["holder_id_number"] = resident["id_number"]
    bad.write_bytes(to_csv("permit", [wrong_holder]))
    refused = run_huren(env, "import", str(bad), "--kind", "permit")
    assert refused.returncode == 1, refused.stdout[-2000:]
    database = env["HUREN_DATABASE_URL"].split("///", 1)[1]
    with closing(sqlite3.connect(database)) as db:
        job_id = re.search(r"/v1/imports/([0-9a-f]+)/errors", refused.stdout)
        assert job_id is not None, refused.stdout[-1000:]
        query = 'SELECT row, "column", code FROM import_row_errors WHERE job_id = ?'
        errors = db.execute(query, (job_id[1],)).fetchall()
    assert errors == [(1, "holder_id_type", "permit.holder_id_type")]


def test_the_demo_catalogue_is_a_marked_sample_and_a_demo_title_fills_a_post(server: str) -> None:
    """The demo's catalogue entries all say 示例 (they are not the real catalogue), and a demo title verified
    by a Chongqing HR system names the sample posts of its series."""
    entries = httpx.get(f"{server}/v1/catalogue", params={"edition": "2023", "limit": 100}).json()["items"]
    sample = [e for e in entries if e["cluster"].startswith("示例集群")]
    assert len(sample) == 12
    assert all("示例" in e["post"] for e in sample)
    listed = {e["title_series"] for e in sample if e["region"] in (None, "CQ")} - {None}
    admin = {"Authorization": f"Bearer {fetch_token(server, 'demo-admin', 'demo-admin-secret')}"}
    titles = httpx.get(
        f"{server}/v1/credentials",
        params={"kind": "title", "region": "SC", "status": "active", "limit": 100},
        headers=admin,
    ).json()["items"]
    title = next(t for t in titles if t["title_code"][:2] in listed)
    hr = {"Authorization": f"Bearer {fetch_token(server, 'demo-hr-cq', 'demo-hr-cq-secret')}"}
    ask = {"kind": "title", "region": "SC", "number": title["number"], "name": title["holder"]["name"]}
    answer = httpx.post(f"{server}/v1/verify", json=ask, headers=hr).json()
    assert answer["outcome"] == "valid"
    expected = {
        e["post"] for e in sample if e["title_series"] == title["title_code"][:2] and e["region"] != "SC"
    }
    assert {s["post"] for s in answer["shortage"]} == expected
    assert all(s["edition"] == "2023" for s in answer["shortage"])


def test_huren_import_loads_a_catalogue_file(
    cli_env: dict[str, str], server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("catalogue") / "catalogue.csv"
    path.write_text(
        "edition,cluster,post,title_series,occupation_code,urgency,region\r\n"
        "2023,命令行测试集群,命令行测试岗位,05,,severe,CQ\r\n",
        encoding="utf-8",
    )
    for inserted in (1, 0):  # again: unchanged
        result = run_huren(cli_env, "import", str(path), "--kind", "catalogue")
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert re.search(
            rf"│\s+succeeded\s+│\s+1\s+│\s+{inserted}\s+│\s+0\s+│\s+{1 - inserted}\s+│", result.stdout
        )
    entries = httpx.get(f"{server}/v1/catalogue", params={"cluster": "命令行测试集群"}).json()["items"]
    assert [(e["post"], e["urgency"], e["region"]) for e in entries] == [("命令行测试岗位", "severe", "CQ")]
