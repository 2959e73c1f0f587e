"""A clerk signs in to the counter page as a person, in a real browser against a real `huren serve`.

The demo clerk's first sign-in enrols an authenticator app from the QR code and secret the page shows (the
test is the app: pyotp computes its codes), checks a card, comes back to a resumed session after a reload,
signs out, and signs in again with the password and a fresh code after a wrong code is refused. Screenshots go
to test-artifacts/.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pyotp

from tests.processes import fetch_token
from tests.web.conftest import DemoNode

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def issue_card_token(node: str) -> str:
    """The QR token of a Sichuan card that is valid today and for a while yet."""
    admin = {"Authorization": f"Bearer {fetch_token(node, 'demo-admin', 'demo-admin-secret')}"}
    page = httpx.get(
        f"{node}/v1/credentials",
        params={"kind": "card", "region": "SC", "status": "active", "limit": 20},
        headers=admin,
    )
    number = next(c["number"] for c in page.json()["items"] if c["valid_until"] > "2027")
    issued = httpx.post(f"{node}/v1/cards/SC/{number}/token", headers=admin)
    assert issued.status_code == 200, issued.text
    token: str = issued.json()["token"]
    return token


def test_a_clerk_enrols_checks_a_card_signs_out_and_back_in(
    demo_node: DemoNode, browser: Browser, artifacts: Path
) -> None:
    node, password = demo_node.base, demo_node.passwords["demo.clerk"]
    card_token = issue_card_token(node)
    page = browser.new_page(locale="zh-CN", viewport={"width": 1000, "height": 1100})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{node}/counter")
    page.wait_for_selector("#sso[data-methods='password']", state="attached")
    assert page.is_hidden("#sso")  # no single sign-on on this node

    # First sign-in: the password is right, and the page asks to enrol an authenticator app.
    page.fill("#username", "demo.clerk")
    page.fill("#password", password)
    page.click("#person-sign-in")
    page.wait_for_selector("#enrol", state="visible", timeout=10_000)
    assert page.locator("#otp-qr svg path").count() >= 1  # the server's QR code, drawn in the page
    secret = page.inner_text("#otp-secret").strip()
    assert len(secret) == 32
    page.screenshot(path=str(artifacts / "counter-person-enrol.png"), full_page=True)
    totp = pyotp.TOTP(secret)
    step = totp.timecode(datetime.now(UTC))
    page.fill("#otp", totp.generate_otp(step))
    page.click("#person-sign-in")
    page.wait_for_selector("#scan", state="visible", timeout=10_000)
    who = page.inner_text("#who")
    assert "演示窗口" in who
    assert "窗口人员" in who
    assert page.is_visible("#sign-out")
    assert page.input_value("#password") == ""  # not left in the page

    # A check made with the session cookie (and its CSRF token: the check is a POST).
    page.focus("#scan")
    page.keyboard.insert_text(card_token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#outcome[data-outcome='valid']", timeout=10_000)
    assert page.inner_text("#outcome") == "有效"
    assert "对等互认" in page.inner_text("#facts")
    page.screenshot(path=str(artifacts / "counter-person-valid.png"), full_page=True)

    # A reload finds the live session: no second sign-in.
    page.reload()
    page.wait_for_selector("#scan", state="visible", timeout=10_000)
    assert "演示窗口" in page.inner_text("#who")

    page.click("#sign-out")
    page.wait_for_selector("#person-form", state="visible", timeout=10_000)
    assert "已退出" in page.inner_text("#person-hint")
    assert page.is_hidden("#check-panel")
    assert page.evaluate("fetch('/v1/session').then((answer) => answer.status)") == 401

    # Again: a wrong code is refused; the next step's code (the enrolment's is spent) is taken.
    right = totp.generate_otp(step + 1)
    page.fill("#username", "demo.clerk")
    page.fill("#password", password)
    page.fill("#otp", f"{(int(right) + 1) % 1_000_000:06d}")
    page.click("#person-sign-in")
    page.wait_for_selector("#person-error", state="visible", timeout=10_000)
    assert page.inner_text("#person-error") == "登录失败：用户名、密码或动态验证码不正确"
    assert page.is_hidden("#scan")
    page.screenshot(path=str(artifacts / "counter-person-wrong-code.png"), full_page=True)
    page.fill("#otp", right)
    page.click("#person-sign-in")
    page.wait_for_selector("#scan", state="visible", timeout=10_000)
    assert "演示窗口" in page.inner_text("#who")
    assert page.is_hidden("#person-error")
    assert errors == []
    page.close()
