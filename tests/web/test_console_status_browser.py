"""The demo admin, in chromium against a real `huren serve`: bulk-revokes one import batch after its preview
and watches the job to the end, then edits a recognition rule and sees its preview count before saving.
Screenshots go to test-artifacts/ (console-status-*.png, console-rules-*.png)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest

from app.imports.parsing import COLUMNS
from app.imports.validation import flatten_payload
from tests.factories import title_payload
from tests.processes import fetch_token
from tests.web.conftest import DemoNode

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow
BATCH = 6


def import_batch(node: str) -> tuple[str, list[str]]:
    """A small title file committed through the import API, as the HR system would send it."""
    rows = [flatten_payload(title_payload("SC")) for _ in range(BATCH)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS["title"]))
    writer.writeheader()
    writer.writerows(rows)
    admin = {"Authorization": f"Bearer {fetch_token(node, 'demo-admin', 'demo-admin-secret')}"}
    answer = httpx.post(
        f"{node}/v1/imports",
        params={"kind": "title", "mode": "commit"},
        headers={**admin, "Idempotency-Key": uuid.uuid4().hex},
        files={"file": ("batch.csv", buffer.getvalue().encode(), "text/csv")},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["inserted"] == BATCH
    return answer.json()["id"], [row["number"] for row in rows]


def sign_in_admin(page: Page, node: str, password: str) -> None:
    """The first sign-in of the demo admin, with the TOTP enrolment (the test is the authenticator app)."""
    first = page.request.post(f"{node}/v1/session", data={"username": "demo.admin", "password": password})
    assert first.status == 401
    secret = parse_qs(urlparse(first.json()["otp_uri"]).query)["secret"][0]
    code = pyotp.TOTP(secret).at(datetime.now(UTC))
    answer = page.request.post(
        f"{node}/v1/session", data={"username": "demo.admin", "password": password, "otp": code}
    )
    assert answer.status == 200, answer.text()


def test_an_admin_bulk_revokes_an_import_batch_and_previews_a_rule(
    demo_node: DemoNode, browser: object, artifacts: Path
) -> None:
    node = demo_node.base
    job_id, numbers = import_batch(node)
    page: Page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_admin(page, node, demo_node.passwords["demo.admin"])

    page.goto(f"{node}/admin#/status")
    page.wait_for_selector("#status-filter")
    page.fill("#f-job", job_id)
    page.select_option("#f-target", "revoked")
    page.click("#status-filter button[type=submit]")
    page.wait_for_selector("#preview-summary")
    summary = page.inner_text("#preview-summary")
    assert f"符合条件 {BATCH} 条，其中 0 条" in summary
    sample = page.inner_text("#preview-title + p + table")
    assert all(number in sample for number in numbers)
    assert "*" in sample  # ID numbers only masked
    page.screenshot(path=str(artifacts / "console-status-preview.png"), full_page=True)

    page.click("#status-confirm button[type=submit]")  # no reason yet: the form refuses to submit
    assert page.eval_on_selector("#f-reason", "box => !box.validity.valid")
    assert not page.is_visible("#job-progress")
    page.fill("#f-reason", "导入批次有误，整批撤销")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#status-confirm button[type=submit]")
    page.wait_for_selector("#job-counts[data-state=succeeded]", timeout=20_000)
    counts = page.inner_text("#job-counts")
    assert f"已处理 {BATCH} / {BATCH}，已变更 {BATCH} 条，状态机拒绝 0 条" in counts
    assert page.eval_on_selector("#job-progress", "bar => bar.value === bar.max")
    page.screenshot(path=str(artifacts / "console-status-done.png"), full_page=True)

    # The batch is revoked, as the registry answers it.
    for number in numbers[:2]:
        answer = page.request.get(f"{node}/v1/credentials/title/SC/{number}")
        assert answer.json()["status"] == "revoked"

    # Rules: edit one, see how many credentials it would recognise differently, then save.
    page.goto(f"{node}/admin#/rules")
    code = "skill-l3-mapped-SC-CQ"
    page.wait_for_selector(f"button[aria-label='编辑 {code}']")
    listed = page.inner_text("#rules-title + table")
    assert "三级/高级工（3）" in listed
    assert "特级技师（7）" in listed  # level names from the skill-levels table, new levels included
    page.click(f"button[aria-label='编辑 {code}']")
    # The eight levels' codes, lowest first, read from GET /v1/reference/skill-levels.
    assert page.inner_text("#r-skill-levels") == (
        "技能等级代码（由低到高）：学徒工 6、五级/初级工 5、四级/中级工 4、三级/高级工 3、二级/技师 2、"
        "一级/高级技师 1、特级技师 7、首席技师 8"
    )
    page.fill("#r-from", "2099-01-01")
    assert page.is_disabled("#r-save")  # not before a preview of what is in the form
    page.click("#r-preview")
    page.wait_for_selector("#r-impact-total")
    shown = int(page.inner_text("#r-impact td[data-kind=skill]"))
    rules = page.request.get(f"{node}/v1/admin/recognition-rules").json()["items"]
    body = {k: v for k, v in next(r for r in rules if r["code"] == code).items() if k != "code"}
    expected = page.request.post(
        f"{node}/v1/admin/recognition-rules/{code}/preview",
        data={**body, "effective_from": "2099-01-01"},
        headers={"X-CSRF-Token": page.request.get(f"{node}/v1/session").json()["csrf_token"]},
    ).json()
    assert shown == expected["counts"]["skill"] > 0
    page.screenshot(path=str(artifacts / "console-rules-preview.png"), full_page=True)
    page.click("#r-save")
    page.wait_for_selector("#r-saved")
    saved = page.request.get(f"{node}/v1/admin/recognition-rules").json()["items"]
    assert next(r for r in saved if r["code"] == code)["effective_from"] == "2099-01-01", saved
    assert "2099-01-01" in page.inner_text("#rules-title + table")
    page.screenshot(path=str(artifacts / "console-rules-saved.png"), full_page=True)
    assert errors == []
    page.close()
