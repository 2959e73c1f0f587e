"""The demo admin imports titles and looks after one in the console, in chromium against a real `huren serve`.

Downloads a template, uploads a file with planted errors and reads each at its row and column in Chinese,
downloads the error list, uploads the fixed file and commits it (the job runs in the background here: the
progress bar survives a reload), then finds an imported title in 登记查询, suspends it with a reason and
reinstates it. Screenshots go to test-artifacts/ (console-import-*.png, console-registry-*.png).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyotp
import pytest

from app.imports.validation import flatten_payload
from tests.factories import title_payload
from tests.processes import demo_passwords, free_port, huren_env, run_huren, serve
from tests.web.conftest import DemoNode

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROWS = 3000  # enough for the background job to be seen under way on most machines


@pytest.fixture(scope="module")
def import_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoNode]:
    """A demo node whose every import runs in the background, as a large one would."""
    folder = tmp_path_factory.mktemp("node")
    port = free_port()
    env = huren_env(
        folder / "node.db", HUREN_PUBLIC_URL=f"http://127.0.0.1:{port}", HUREN_IMPORT_INLINE_BYTES="0"
    )
    demo = run_huren(env, "demo")
    assert demo.returncode == 0, demo.stderr[-2000:]
    with serve(env, port, folder / "serve.log") as base:
        yield DemoNode(base, demo_passwords(demo.stdout))


def sign_in_admin(page: Page, node: DemoNode) -> None:
    """The demo admin's first sign-in over the API (enrolment, then password and code): the browser context
    keeps the session cookie."""
    credentials = {"username": "demo.admin", "password": node.passwords["demo.admin"]}
    first = page.request.post(f"{node.base}/v1/session", data=credentials)
    assert first.status == 401, first.text()
    uri = first.json()["otp_uri"]
    secret = uri.split("secret=")[1].split("&")[0]
    code = pyotp.TOTP(secret).now()
    answer = page.request.post(f"{node.base}/v1/session", data={**credentials, "otp": code})
    assert answer.status == 200, answer.text()


def to_csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def test_the_admin_imports_titles_and_suspends_one(
    import_node: DemoNode, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 800}, accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_admin(page, import_node)
    page.goto(f"{import_node.base}/admin#/import")
    page.wait_for_selector("#import-form")

    # The template, as a person downloads it.
    with page.expect_download() as template_download:
        page.click("#template-link")
    header = next(csv.reader(io.StringIO(Path(template_download.value.path()).read_text("utf-8-sig"))))
    assert "holder_id_number" in header

    # A file with two planted errors: a wrong check digit (row 2) and a date in the future (row 5).
    rows = [{k: v for k, v in flatten_payload(title_payload()).items() if k in header} for _ in range(ROWS)]
    fixed = to_csv(header, rows)
    broken_rows = [dict(row) for row in rows]
    number = broken_rows[1]["holder_id_number"]
    broken_rows[1]["holder_id_number"] = number[:-1] + ("0" if number[-1] != "0" else "1")
    broken_rows[4]["issued_on"] = "2099-01-01"
    broken = tmp_path / "titles.csv"
    broken.write_bytes(to_csv(header, broken_rows))
    page.set_input_files("#import-file", str(broken))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-errors table", timeout=60_000)
    checksum = page.locator("#import-errors tr[data-row='2'][data-column='holder_id_number']")
    assert "身份证号码校验位错误" in checksum.inner_text()
    future = page.locator("#import-errors tr[data-row='5'][data-column='issued_on']")
    assert "日期晚于今天" in future.inner_text()
    assert "共 2 条" in page.inner_text("#import-errors h2")
    page.screenshot(path=str(artifacts / "console-import-errors.png"), full_page=True)
    with page.expect_download() as report_download:
        page.click("#errors-csv")
    report = list(csv.reader(io.StringIO(Path(report_download.value.path()).read_text("utf-8"))))
    assert [line[:3] for line in report[1:]] == [
        ["2", "holder_id_number", "id_number.checksum"],
        ["5", "issued_on", "date.future"],
    ]

    # The fixed file: validated clean, then committed with the progress bar followed to the end.
    good = tmp_path / "titles-fixed.csv"
    good.write_bytes(fixed)
    page.set_input_files("#import-file", str(good))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-outcome:has-text('没有错误')", timeout=60_000)
    page.click("#import-commit")
    page.wait_for_selector("#import-job h2:has-text('导入')", timeout=30_000)
    assert "job=" in page.url  # what a reload comes back to
    if page.get_attribute("#import-job", "data-status") in ("queued", "running"):
        page.screenshot(path=str(artifacts / "console-import-progress.png"), full_page=True)
        page.reload()  # the job id is in the address: the bar picks the job up again
    page.wait_for_selector("#import-job[data-status='succeeded']", timeout=120_000)
    assert page.inner_text("#import-percent") == "100 %"
    assert f"新增 {ROWS}" in page.inner_text("#import-outcome")
    page.screenshot(path=str(artifacts / "console-import-done.png"), full_page=True)
    assert "titles-fixed.csv" in page.inner_text("#import-jobs")
    assert "demo.admin" in page.inner_text("#import-jobs")

    # 登记查询: find one of the imported titles, suspend it with a reason, reinstate it.
    target = rows[7]["number"]
    page.click("nav a[data-section='registry']")
    page.wait_for_selector("#registry-search")
    page.fill("#q-number", target)
    page.click("#registry-search button[type=submit]")
    page.click(f"#registry-results tr[data-number='{target}'] button")
    page.wait_for_selector("#credential[data-status='active']")
    assert "*" in page.inner_text("#holder-number")  # masked until revealed
    page.fill("#status-reason", "")
    page.select_option("#status-target", "suspended")
    page.click("#status-form button[type=submit]")
    assert "请填写变更原因" in page.inner_text("#status-message")
    page.fill("#status-reason", "证书真实性核查中")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#credential[data-status='suspended']")
    assert "证书真实性核查中" in page.inner_text("#credential")
    page.screenshot(path=str(artifacts / "console-registry-suspended.png"), full_page=True)
    page.select_option("#status-target", "active")
    page.fill("#status-reason", "核查无误后恢复")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#credential[data-status='active']")
    history = page.inner_text("#credential")
    assert "核查无误后恢复" in history
    assert "demo.admin" in history
    page.click("#reveal")
    page.wait_for_selector("#holder-number.secret")
    assert page.inner_text("#holder-number") == rows[7]["holder_id_number"]
    page.screenshot(path=str(artifacts / "console-registry-active.png"), full_page=True)
    assert errors == [], errors
    context.close()
