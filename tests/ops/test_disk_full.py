"""The import directory fills up while a real `huren serve` imports: the job fails with `import.disk_full`,
nothing of it is stored, its files are gone, and the node keeps answering everything else.

The import directory is a 2 MiB tmpfs (the test runs as root, as CI does). A file that does not fit is
refused at upload with 507 problem+json; a file that fits but whose scratch files (the duplicate index, the
clean rows) do not fails as a job.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATABASES, POSTGRES_URL
from tests.factories import title_payload
from tests.imports.test_import import flatten, to_csv
from tests.processes import fetch_token, free_port, huren_env, run_huren, serve
from tests.support.node_databases import count_rows, node_database

pytestmark = pytest.mark.slow

DISK_BYTES = 2 * 1024 * 1024
ROW_BYTES = 242  # a title row of tests.factories, as CSV


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB filesystem of its own, unmounted afterwards."""
    directory = tmp_path / "imports"
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        if os.geteuid() == 0:  # CI runs as root: there the test must run, not skip
            pytest.fail(f"cannot mount a tmpfs as root: {mounted.stderr}")
        pytest.skip(f"mounting a tmpfs needs root: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


@pytest.fixture(params=DATABASES)
def node_env(request: pytest.FixtureRequest, tmp_path: Path, small_disk: Path) -> Iterator[dict[str, str]]:
    with node_database(request.param, POSTGRES_URL, tmp_path, "disk") as url:
        env = huren_env(tmp_path / "unused.db", HUREN_IMPORT_DIR=str(tmp_path / "demo-imports"))
        env["HUREN_DATABASE_URL"] = url
        loaded = run_huren(env, "demo")
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        yield {**env, "HUREN_IMPORT_DIR": str(small_disk)}


def titles_csv(size: int) -> bytes:
    return to_csv("title", [flatten(title_payload()) for _ in range(size // ROW_BYTES)])


def upload(server: str, headers: dict[str, str], body: bytes, key: str) -> httpx.Response:
    return httpx.post(
        f"{server}/v1/imports",
        params={"kind": "title", "mode": "commit"},
        files={"file": ("titles.csv", body, "text/csv")},
        headers={**headers, "Idempotency-Key": key},
        timeout=60,
    )


def others_answer(server: str, headers: dict[str, str], card: str) -> None:
    """A verification and a registry read, as other clients send them while the import fails."""
    verified = httpx.post(
        f"{server}/v1/verify",
        json={"kind": "card", "region": "SC", "number": card, "name": "nobody"},
        headers=headers,
    )
    assert verified.status_code == 200, verified.text
    assert "receipt" in verified.json()
    read = httpx.get(f"{server}/v1/credentials/card/SC/{card}", headers=headers)
    assert read.status_code == 200, read.text


def server_log(tmp_path: Path) -> str:
    """The end of the node's log, for a failure's message."""
    return (tmp_path / "serve.log").read_text()[-3000:]


def wait_finished(server: str, headers: dict[str, str], location: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, object] = httpx.get(f"{server}{location}", headers=headers).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"the import did not finish: {job}")


def test_a_full_import_directory_fails_the_import_cleanly(
    node_env: dict[str, str], small_disk: Path, tmp_path: Path
) -> None:
    url = node_env["HUREN_DATABASE_URL"]
    with serve(node_env, free_port(), tmp_path / "serve.log") as server:
        headers = {"Authorization": f"Bearer {fetch_token(server, 'demo-admin', 'demo-admin-secret')}"}
        card = httpx.get(
            f"{server}/v1/credentials", params={"kind": "card", "region": "SC", "limit": 1}, headers=headers
        ).json()["items"][0]["number"]
        before = {table: count_rows(url, table) for table in ("credentials", "holders")}

        # Fits on the disk (over HUREN_IMPORT_INLINE_BYTES: a background job), but its scratch does not.
        fits = titles_csv(int(DISK_BYTES * 0.97))
        started = upload(server, headers, fits, "disk-full-job")
        assert started.status_code == 202, started.text
        others_answer(server, headers, card)
        job = wait_finished(server, headers, started.headers["Location"])
        assert job["status"] == "failed", job
        problem = job["problem"]
        assert isinstance(problem, dict)
        assert (problem["code"], problem["status"]) == ("import.disk_full", 507), problem
        assert problem["message_zh"]
        assert job["inserted"] == 0
        assert os.listdir(small_disk) == []  # the upload and every scratch file released
        others_answer(server, headers, card)

        # Does not even fit: refused as it is stored, not a 500.
        refused = upload(server, headers, titles_csv(int(DISK_BYTES * 1.3)), "disk-full-upload")
        assert refused.status_code == 507, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["retry-after"]
        body = refused.json()
        assert (body["type"], body["code"]) == ("/problems/import-disk-full", "import.disk_full")
        assert "Traceback" not in refused.text
        assert os.listdir(small_disk) == []
        others_answer(server, headers, card)

        assert {table: count_rows(url, table) for table in ("credentials", "holders")} == before
        # The same file imports once the space is there: nothing half-done was left in its way.
        small_disk_free = subprocess.run(
            ["mount", "-o", f"remount,size={8 * DISK_BYTES}", str(small_disk)], check=False
        )
        assert small_disk_free.returncode == 0
        again = upload(server, headers, fits, "disk-full-again")
        assert again.status_code == 202, again.text
        done = wait_finished(server, headers, again.headers["Location"])
        outcome = (done["status"], done["inserted"])
        expected = ("succeeded", len(fits.splitlines()) - 1)
        assert outcome == expected, (done.get("problem"), server_log(tmp_path))
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log
    assert log.count("import directory full") == 2, log[-3000:]  # the operator's side of the two failures
