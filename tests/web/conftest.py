"""What the browser tests share: Debian's chromium driven by Playwright, a real `huren serve` with the demo
data, and the folder their screenshots go to (CI keeps test-artifacts/)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.processes import demo_passwords, free_port, huren_env, run_huren, serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        # .ci/run installs chromium and sets HUREN_REQUIRE_BROWSER, so CI can never skip this silently.
        if os.environ.get("HUREN_REQUIRE_BROWSER"):
            pytest.fail(f"chromium is required for the browser tests and was not found at {CHROMIUM}")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass(frozen=True)
class DemoNode:
    base: str
    passwords: dict[str, str]  # the demo people's one-time passwords, as `huren demo` printed them


@pytest.fixture(scope="module")
def demo_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoNode]:
    """A node of its own for each test module, with the demo clients, people and registries."""
    folder = tmp_path_factory.mktemp("node")
    port = free_port()
    env = huren_env(folder / "node.db", HUREN_PUBLIC_URL=f"http://127.0.0.1:{port}")
    demo = run_huren(env, "demo")
    assert demo.returncode == 0, demo.stderr[-2000:]
    with serve(env, port, folder / "serve.log") as base:
        yield DemoNode(base, demo_passwords(demo.stdout))


@pytest.fixture(scope="module")
def node(demo_node: DemoNode) -> str:
    return demo_node.base


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
