"""Single sign-on at the counter page in a real browser: Debian chromium, a real `huren serve` with the demo
data, and a real OpenID provider (oidc-provider from npm, tests/oidc) on 127.0.0.1.

A clerk whose provider groups map to a huren role signs in at the provider's pages, lands on the counter page
as themself, checks a card and signs out; a person with no mapped role is sent back with the refusal shown.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.web.sso import serve_sso_demo, sign_in_at_provider_page
from tests.web.test_counter_people_browser import issue_card_token

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CLIENT_ID = "huren-counter"
CLIENT_SECRET = "huren-counter-sso-secret-0123456789"


@pytest.fixture(scope="module")
def sso_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("sso-node")
    with serve_sso_demo(
        folder, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, group_map={"huren-cq-clerk": ["clerk@CQ"]}
    ) as served:
        yield served


def test_a_clerk_signs_in_by_sso_checks_a_card_and_signs_out(
    sso_node: str, browser: Browser, artifacts: Path
) -> None:
    card_token = issue_card_token(sso_node)
    page = browser.new_page(locale="zh-CN", viewport={"width": 1000, "height": 1100})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{sso_node}/counter")
    page.wait_for_selector("#sso-link", state="visible", timeout=10_000)
    page.click("#sso-link")
    sign_in_at_provider_page(page, "wang.clerk", sso_node)
    page.wait_for_selector("#scan", state="visible", timeout=15_000)
    assert page.url == f"{sso_node}/counter"
    who = page.inner_text("#who")
    assert "王小明" in who
    assert "窗口人员" in who
    page.screenshot(path=str(artifacts / "counter-sso-signed-in.png"), full_page=True)

    page.focus("#scan")
    page.keyboard.insert_text(card_token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#outcome[data-outcome='valid']", timeout=10_000)
    assert page.inner_text("#outcome") == "有效"
    page.screenshot(path=str(artifacts / "counter-sso-valid.png"), full_page=True)

    session = page.evaluate("fetch('/v1/session').then((answer) => answer.json())")
    assert session["method"] == "oidc"
    page.click("#sign-out")
    page.wait_for_selector("#person-form", state="visible", timeout=10_000)
    assert page.evaluate("fetch('/v1/session').then((answer) => answer.status)") == 401
    assert errors == []
    page.close()

    # The audit names the person, their role and the method for each thing they did.
    admin = httpx.post(
        f"{sso_node}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("demo-admin", "demo-admin-secret"),
    ).json()["access_token"]
    events = httpx.get(
        f"{sso_node}/v1/admin/audit",
        params={"actor": "wang.clerk"},
        headers={"Authorization": f"Bearer {admin}"},
    ).json()["items"]
    assert [e["action"] for e in events] == ["session.signed_out", "card.token_verified", "session.signed_in"]
    assert {(e["actor_method"], tuple(e["actor_roles"])) for e in events} == {("oidc", ("clerk",))}


def test_a_person_with_no_huren_role_is_refused_and_told_so(
    sso_node: str, browser: Browser, artifacts: Path
) -> None:
    page = browser.new_page(locale="zh-CN", viewport={"width": 1000, "height": 900})
    page.goto(f"{sso_node}/counter")
    page.wait_for_selector("#sso-link", state="visible", timeout=10_000)
    page.click("#sso-link")
    sign_in_at_provider_page(page, "li.norole", sso_node)
    page.wait_for_selector("#person-error", state="visible", timeout=15_000)
    assert "未被授予本系统的角色" in page.inner_text("#person-error")
    assert page.is_hidden("#check-panel")
    assert "sso_error" not in page.url  # the message is shown once, not kept in the address
    assert page.evaluate("fetch('/v1/session').then((answer) => answer.status)") == 401
    page.screenshot(path=str(artifacts / "counter-sso-refused.png"), full_page=True)
    page.close()
