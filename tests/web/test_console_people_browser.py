"""The demo admin signs in on /signin (enrolling an authenticator app), lands on the console, creates a
member of staff and a machine client (each secret shown once), disables the client after confirming, and
in the audit finds their own actions and verifies the chain: in chromium against a real `huren serve`.
Screenshots go to test-artifacts/ (console-*.png)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyotp

from tests.web.conftest import DemoNode

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def sign_in_on_the_page(page: Page, node: str, password: str, artifacts: Path) -> None:
    page.goto(f"{node}/admin")
    page.wait_for_url("**/signin?next=/admin")
    # Another site is never where the sign-in goes on to: a next of //evil.example lands on /admin.
    page.goto(f"{node}/signin?next=//evil.example/")
    page.wait_for_selector("#sso[data-methods='password']", state="attached")
    assert page.is_hidden("#sso")  # no single sign-on on this node
    page.fill("#username", "demo.admin")
    page.fill("#password", password)
    page.click("#person-sign-in")
    page.wait_for_selector("#enrol", state="visible", timeout=10_000)
    assert page.locator("#otp-qr svg path").count() >= 1
    secret = page.inner_text("#otp-secret").strip()
    page.screenshot(path=str(artifacts / "console-signin-enrol.png"), full_page=True)
    totp = pyotp.TOTP(secret)
    page.fill("#otp", totp.generate_otp(totp.timecode(datetime.now(UTC))))
    page.click("#person-sign-in")
    page.wait_for_url(f"{node}/admin", timeout=10_000)


def test_an_admin_manages_people_and_clients_and_checks_the_audit(
    demo_node: DemoNode, browser: Browser, artifacts: Path
) -> None:
    node = demo_node.base
    page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    sign_in_on_the_page(page, node, demo_node.passwords["demo.admin"], artifacts)
    page.wait_for_selector("#who:has-text('演示管理员')")

    page.click("a[data-section='people']")
    page.wait_for_selector("#staff-panel tr[data-staff='demo.admin']")
    # The admin cannot disable themself: no such button on their own row.
    assert page.locator("#staff-panel tr[data-staff='demo.admin'] button:has-text('停用')").count() == 0

    # A new clerk for Chongqing: the one-time password is shown once, in its marked box.
    page.fill("#staff-username", "console.clerk")
    page.fill("#staff-display-name", "控制台窗口")
    page.check("#staff-form input[name='regions'][value='CQ']")
    page.click("#staff-create")
    page.wait_for_selector("#staff-password-box #created-password")
    assert len(page.inner_text("#created-password").strip()) >= 12
    page.wait_for_selector("#staff-panel tr[data-staff='console.clerk']")
    assert "未绑定" in page.inner_text("#staff-panel tr[data-staff='console.clerk']")
    page.screenshot(path=str(artifacts / "console-people-staff.png"), full_page=True)

    # A machine client: its secret is shown once; then it is disabled after a confirmation.
    page.fill("#client-name", "控制台测试窗口")
    page.select_option("#client-region", "CQ")
    page.click("#client-create")
    page.wait_for_selector("#client-secret-box #created-client-secret")
    client_id = page.inner_text("#created-client-id").strip()
    assert len(page.inner_text("#created-client-secret").strip()) >= 20
    page.screenshot(path=str(artifacts / "console-people-client.png"), full_page=True)
    row = page.locator(f"#clients-panel tr[data-client='{client_id}']")
    row.locator("button:has-text('停用')").click()
    row.locator("button:has-text('确认停用')").click()
    page.wait_for_selector(f"#clients-panel tr[data-client='{client_id}'] td:has-text('已停用')")

    # The audit: the admin's own actions, newest first, and an intact chain.
    page.click("a[data-section='audit']")
    page.wait_for_selector("#audit-filter")
    page.fill("#audit-actor", "demo.admin")
    page.click("#audit-search")
    # The unfiltered list shown before holds client.disabled too: wait for the filtered one to replace it.
    page.wait_for_function(
        """() => {
            const cells = [...document.querySelectorAll('#audit-results tbody tr td:nth-child(2)')];
            return cells.length > 0 && cells.every((td) => td.textContent.startsWith('demo.admin'));
        }""",
        timeout=10_000,
    )
    page.wait_for_selector("#audit-results tr[data-seq] >> text=client.disabled")
    people = page.locator("#audit-results tbody tr td:nth-child(2)").all_inner_texts()
    assert people
    assert all(text.startswith("demo.admin（密码+动态码 · 管理员）") for text in people)
    actions = page.locator("#audit-results tbody tr td:nth-child(4)").all_inner_texts()
    assert actions.index("client.disabled") < actions.index("client.created") < actions.index("staff.created")
    page.click("#audit-verify")
    page.wait_for_selector("#chain-result[data-intact='true']", timeout=20_000)
    assert "审计链完整" in page.inner_text("#chain-result")
    page.screenshot(path=str(artifacts / "console-audit.png"), full_page=True)
    assert errors == []
