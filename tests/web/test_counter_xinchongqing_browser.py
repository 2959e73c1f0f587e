"""A 新重庆人才卡 at a Sichuan counter, in a real browser (Debian chromium driven by Playwright) against a
real `huren serve` with the demo data.

A Sichuan counter device signs in, checks the demo's 新重庆人才卡 by card number and name (no QR code
at hand), and reads on the page that the card is valid, that it is a 新重庆人才卡 (the name comes from the
public card system table, not from the page), how Sichuan recognises it (对等互认 as a 天府英才卡 class)
and the services shared in Sichuan. A screenshot goes to test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from app.domain.calendar import china_today
from tests.processes import fetch_token

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def demo_xinchongqing_card(node: str) -> dict[str, Any]:
    """An active demo 新重庆人才卡 of Chongqing that is valid for a while yet."""
    admin = {"Authorization": f"Bearer {fetch_token(node, 'demo-admin', 'demo-admin-secret')}"}
    today = china_today().isoformat()
    params: dict[str, Any] = {"kind": "card", "region": "CQ", "status": "active", "limit": 100}
    while True:
        page = httpx.get(f"{node}/v1/credentials", params=params, headers=admin)
        assert page.status_code == 200, page.text
        body = page.json()
        for card in body["items"]:
            if card["card_system"] == "cq-xinchongqing" and card["valid_until"] > today:
                return dict(card)
        assert body["next_cursor"], "the demo should hold an active 新重庆人才卡 in Chongqing"
        params["cursor"] = body["next_cursor"]


def test_a_sichuan_counter_checks_a_xinchongqing_card_by_number_and_name(
    node: str, browser: Browser, artifacts: Path
) -> None:
    card = demo_xinchongqing_card(node)
    page = browser.new_page(locale="zh-CN", viewport={"width": 1000, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{node}/counter")
    page.click("#device summary")
    page.fill("#client-id", "demo-counter-sc")
    page.fill("#client-secret", "demo-counter-sc-secret")
    page.click("#sign-in")
    page.wait_for_selector("#scan", state="visible")
    assert "demo-counter-sc" in page.inner_text("#who")

    page.click("#manual summary")
    page.select_option("#manual-region", "CQ")
    page.fill("#manual-number", card["number"])
    page.fill("#manual-name", card["holder"]["name"])
    page.click("#manual-submit")
    page.wait_for_selector("#outcome[data-outcome='valid']", timeout=10_000)
    assert page.inner_text("#outcome") == "有效"
    facts = page.inner_text("#facts")
    page.screenshot(path=str(artifacts / "counter-xinchongqing-at-sc.png"), full_page=True)
    assert "新重庆人才卡" in facts  # the system, by the name the code table gives it
    assert f"新重庆人才卡{card['card_class']}卡" in facts  # the card's own class
    assert "cq-xinchongqing" not in facts  # a name, not a code
    assert "重庆" in facts  # the issuing region
    # Sichuan's recognition: 对等互认 as the corresponding 天府英才卡 class (both classes are assumptions).
    assert f"对等互认：天府英才卡{card['card_class']}卡" in facts
    assert page.is_visible("#services")
    shared = page.inner_text("#services")
    for service in ("户籍迁徙", "安居置业", "创业扶持"):
        assert service in shared
    assert errors == []
    page.close()
