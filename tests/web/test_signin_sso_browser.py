"""Single sign-on from the sign-in page (/signin) in chromium, against a real `huren serve` and a real OpenID
provider (tests/oidc): an admin goes from /admin to /signin, through the provider's pages and back to the
console as themself; a person with no huren role comes back to /signin and is told why, in Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.web.sso import serve_sso_demo, sign_in_at_provider_page

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def sso_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("signin-sso-node")
    with serve_sso_demo(
        folder,
        client_id="huren-console",
        client_secret="huren-console-sso-secret-0123456789",
        group_map={"huren-sc-admin": ["admin@SC"]},
    ) as served:
        yield served


def test_an_admin_signs_in_by_sso_from_the_sign_in_page(
    sso_node: str, browser: Browser, artifacts: Path
) -> None:
    page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{sso_node}/admin")
    page.wait_for_selector("#sso-link", state="visible", timeout=10_000)
    assert page.get_attribute("#sso-link", "href") == "/auth/oidc/login?next=%2Fsignin%3Fnext%3D%252Fadmin"
    page.screenshot(path=str(artifacts / "console-signin-sso.png"), full_page=True)
    page.click("#sso-link")
    sign_in_at_provider_page(page, "zhang.admin", sso_node)
    page.wait_for_url(f"{sso_node}/admin", timeout=15_000)
    page.wait_for_selector("#who:has-text('张伟')")
    assert "管理员" in page.inner_text("#who")
    assert errors == []
    page.close()


def test_a_person_without_a_role_comes_back_to_the_sign_in_page_told_why(
    sso_node: str, browser: Browser
) -> None:
    page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page.goto(f"{sso_node}/signin?next=/admin")
    page.wait_for_selector("#sso-link", state="visible", timeout=10_000)
    page.click("#sso-link")
    sign_in_at_provider_page(page, "li.norole", sso_node)
    page.wait_for_selector("#person-error", state="visible", timeout=15_000)
    assert "未被授予本系统的角色" in page.inner_text("#person-error")
    assert page.url.endswith("/signin?next=%2Fadmin")  # the message is said once, not kept in the address
    page.close()
