"""The counter page in a real browser (Debian chromium driven by Playwright) against a real `huren serve`.

A Chongqing counter device signs in with its client credentials (a clerk signing in as a person is
test_counter_people_browser.py), scans a valid Sichuan card, a revoked one and a tampered token, and reads the
answer on the page. Screenshots are kept under test-artifacts/ (CI keeps that folder). The browser, the node
and that folder are fixtures of conftest.py, shared with the docs test.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.processes import fetch_token


@pytest.fixture(scope="module")
def cards(node: str) -> dict[str, str]:
    """QR tokens of three Sichuan cards: one valid, one revoked after its token was made, one forged."""
    admin = {"Authorization": f"Bearer {fetch_token(node, 'demo-admin', 'demo-admin-secret')}"}
    page = httpx.get(
        f"{node}/v1/credentials",
        params={"kind": "card", "region": "SC", "status": "active", "limit": 20},
        headers=admin,
    )
    numbers = [c["number"] for c in page.json()["items"] if c["valid_until"] > "2027"]
    tokens = {}
    for name, number in zip(("valid", "revoked"), numbers, strict=False):
        issued = httpx.post(f"{node}/v1/cards/SC/{number}/token", headers=admin)
        assert issued.status_code == 200, issued.text
        tokens[name] = issued.json()["token"]
    changed = httpx.post(
        f"{node}/v1/credentials/card/SC/{numbers[1]}/status",
        json={"status": "revoked", "reason": "伪造材料"},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    head, body, signature = tokens["valid"].split(".")
    tokens["tampered"] = f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{signature}"
    return tokens


def test_a_clerk_checks_three_cards(
    node: str, cards: dict[str, str], browser: object, artifacts: Path
) -> None:
    page = browser.new_page(locale="zh-CN", viewport={"width": 1000, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{node}/counter")
    page.click("#device summary")  # a counter device's credentials: the page's second way in
    page.fill("#client-id", "demo-counter-cq")
    page.fill("#client-secret", "demo-counter-cq-secret")
    page.click("#sign-in")
    page.wait_for_selector("#scan", state="visible")
    assert "demo-counter-cq" in page.inner_text("#who")

    expectations = [
        ("valid", "有效", "valid"),
        ("revoked", "已撤销", "revoked"),
        ("tampered", "无匹配", "no_match"),
    ]
    for name, label, outcome in expectations:
        # A USB scanner types the token into the focused field and presses Enter.
        page.focus("#scan")
        page.keyboard.insert_text(cards[name])
        page.keyboard.press("Enter")
        page.wait_for_selector(f"#outcome[data-outcome='{outcome}']", timeout=10_000)
        assert page.inner_text("#outcome") == label
        page.screenshot(path=str(artifacts / f"counter-{name}.png"), full_page=True)
        if name == "valid":
            facts = page.inner_text("#facts")
            assert "天府英才卡" in facts  # the card class, by name
            assert "*" in facts  # the holder's name, masked
            assert "对等互认" in facts  # how Chongqing recognises it
            assert page.is_visible("#services")
            assert page.inner_text("#services").strip()
        if name == "tampered":
            assert page.inner_text("#facts").strip() == ""
        assert page.input_value("#scan") == ""  # ready for the next card
    assert errors == []
    page.close()


def test_a_failed_sign_in_says_so_on_the_page(node: str, browser: object, artifacts: Path) -> None:
    """A wrong secret shows the page's own message: no browser password dialog stands in the way
    (a Basic challenge would open one, and headless Chromium would wait on it forever)."""
    page = browser.new_page(locale="zh-CN")  # type: ignore[attr-defined]
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.type))
    page.goto(f"{node}/counter")
    page.click("#device summary")
    page.fill("#client-id", "demo-counter-cq")
    page.fill("#client-secret", "wrong-secret")
    page.click("#sign-in")
    page.wait_for_selector("#sign-in-error", state="visible", timeout=10_000)
    assert "登录失败" in page.inner_text("#sign-in-error")
    assert page.is_hidden("#scan")
    assert dialogs == []
    page.screenshot(path=str(artifacts / "counter-sign-in-failed.png"))
    page.close()
