"""Schemathesis against a real `huren serve` with the demo data: every check, with an admin token and without.

Generated clients trust openapi/openapi.json; this finds where the served document and the server disagree
(undocumented statuses or media types, answers off their schema, schema-valid requests refused, invalid ones
accepted). A fixed seed and a bounded number of examples keep the two runs to about a minute.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import fetch_token, free_port, huren_env, run_huren, serve

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = "20261213"
MAX_EXAMPLES = "20"
# Operations that would take the test's own access away: disabling a client may disable demo-admin, whose
# token the authenticated run uses, and every later request would be a 401.
EXCLUDED_PATHS = ["/v1/admin/clients/{client_id}/disable"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("schemathesis")


@pytest.fixture(scope="module")
def node(workdir: Path) -> Iterator[str]:
    base = workdir
    # Budgets out of the way: thousands of requests in a minute from one client and address are the test,
    # not an attack (the 429 answers are documented and tested elsewhere).
    env = huren_env(
        base / "node.db",
        HUREN_RATE_LIMIT_PER_MINUTE="1000000",
        HUREN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE="1000000",
        HUREN_TOKEN_RATE_LIMIT_PER_MINUTE="1000000",
        HUREN_IMPORT_DIR=str(base / "imports"),
    )
    demo = run_huren(env, "demo")
    assert demo.returncode == 0, demo.stderr[-2000:]
    with serve(env, free_port(), base / "serve.log") as url:
        yield url


def run_schemathesis(url: str, workdir: Path, *headers: str) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("schemathesis")
    excluded = [arg for path in EXCLUDED_PATHS for arg in ("--exclude-path", path)]
    command = [
        str(executable),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--seed",
        SEED,
        "--max-examples",
        MAX_EXAMPLES,
        *excluded,
        *[arg for header in headers for arg in ("--header", header)],
    ]
    # In a directory of its own: schemathesis keeps a cache (.schemathesis/) where it runs.
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=workdir)


@pytest.mark.slow
@pytest.mark.parametrize("authenticated", [True, False], ids=["admin-token", "no-token"])
def test_schemathesis_finds_nothing(node: str, workdir: Path, authenticated: bool) -> None:
    headers = [f"Authorization: Bearer {fetch_token(node, 'demo-admin', 'demo-admin-secret')}"]
    result = run_schemathesis(node, workdir, *(headers if authenticated else []))
    # Exit status 0 only when no check failed and nothing errored; the report says which and how to replay.
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
