"""Work permits in the console, in chromium against a real `huren serve` of the demo: the kind is offered
as 外国人工作许可 in the registry search, the import and the status-change filters, and a permit's detail
shows its class and employer. Screenshot: test-artifacts/console-permit-detail.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.processes import demo_passwords, free_port, huren_env, run_huren, serve
from tests.web.conftest import DemoNode
from tests.web.test_console_import_browser import sign_in_admin

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow
LABEL = "外国人工作许可"


@pytest.fixture(scope="module")
def permit_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoNode]:
    """A demo node of its own: the demo admin enrols a second factor at the first sign-in."""
    folder = tmp_path_factory.mktemp("permit-node")
    port = free_port()
    env = huren_env(folder / "node.db", HUREN_PUBLIC_URL=f"http://127.0.0.1:{port}")
    demo = run_huren(env, "demo")
    assert demo.returncode == 0, demo.stderr[-2000:]
    with serve(env, port, folder / "serve.log") as base:
        yield DemoNode(base, demo_passwords(demo.stdout))


def test_permits_are_a_kind_of_the_console(permit_node: DemoNode, browser: Browser, artifacts: Path) -> None:
    page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_admin(page, permit_node)

    page.goto(f"{permit_node.base}/admin#/registry")
    page.wait_for_selector("#registry-search")
    assert page.inner_text("#q-kind option[value='permit']") == LABEL
    page.select_option("#q-kind", "permit")
    page.select_option("#q-region", "SC")
    page.click("#registry-search button[type=submit]")
    page.wait_for_selector("#registry-results tr[data-number]")
    rows = page.locator("#registry-results tr[data-number]")
    assert rows.count() == 3  # the demo's SC permits: one of each class
    assert LABEL in rows.first.inner_text()
    rows.first.locator("button").click()
    page.wait_for_selector("#credential")
    detail = page.inner_text("#credential")
    assert LABEL in detail
    assert "许可类别" in detail
    assert "用人单位" in detail
    page.screenshot(path=str(artifacts / "console-permit-detail.png"), full_page=True)

    page.goto(f"{permit_node.base}/admin#/import")
    page.wait_for_selector("#import-form")
    assert page.inner_text("#import-kind option[value='permit']") == LABEL

    page.goto(f"{permit_node.base}/admin#/status")
    page.wait_for_selector("#status-filter")
    assert page.inner_text("#f-kind option[value='permit']") == LABEL
    assert errors == []
