"""The demo admin imports shortage-catalogue entries in the console's import section (kind 人才目录) and reads
the catalogue in its own section, in chromium against a real `huren serve`. Screenshot:
test-artifacts/console-catalogue.png."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.web.conftest import DemoNode
from tests.web.test_console_import_browser import sign_in_admin

if TYPE_CHECKING:
    from playwright.sync_api import Browser

HEADER = "edition,cluster,post,title_series,occupation_code,urgency,region\n"


def test_the_admin_imports_catalogue_entries_and_reads_them(
    demo_node: DemoNode, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_admin(page, demo_node)
    page.goto(f"{demo_node.base}/admin#/import")
    page.wait_for_selector("#import-form")
    page.select_option("#import-kind", "catalogue")

    broken = tmp_path / "catalogue.csv"
    broken.write_text(HEADER + "2023,浏览器测试集群,浏览器测试岗位,05,,紧急,CQ\n", encoding="utf-8")
    page.set_input_files("#import-file", str(broken))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-errors table", timeout=60_000)
    assert (
        "不是允许的取值"
        in page.locator("#import-errors tr[data-row='1'][data-column='urgency']").inner_text()
    )

    fixed = tmp_path / "catalogue-fixed.csv"
    fixed.write_text(HEADER + "2023,浏览器测试集群,浏览器测试岗位,05,,重度,CQ\n", encoding="utf-8")
    page.set_input_files("#import-file", str(fixed))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-outcome:has-text('没有错误')", timeout=60_000)
    page.click("#import-commit")
    page.wait_for_selector("#import-job[data-status='succeeded']", timeout=60_000)
    assert "人才目录" in page.inner_text("#import-jobs")

    page.goto(f"{demo_node.base}/admin#/catalogue")
    page.wait_for_selector("#c-results table")
    text = page.inner_text("#c-results")
    assert "浏览器测试岗位" in text
    assert text.count("示例") >= 12  # the demo's sample entries say what they are
    assert "1458" in page.inner_text("#c-facts")
    page.select_option("#c-urgency", "mild")
    from playwright.sync_api import expect  # installed where the browser fixture did not skip

    expect(page.locator("#c-results")).not_to_contain_text("重度")
    assert "轻度" in page.inner_text("#c-results")
    page.screenshot(path=str(artifacts / "console-catalogue.png"), full_page=True)
    assert errors == []
    context.close()
