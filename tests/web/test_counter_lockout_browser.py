"""The counter page against a node served from inside the test process, so the test can move its clock and
change its settings: five failed sign-ins lock a name and the page says for how long; the lock ends after its
window; the single sign-on link shows only where the node lists oidc.

A real `huren serve` cannot take a clock: the node's database is made as the other browser tests make theirs
(`huren demo` in a process of its own), then served by uvicorn in a thread (tests/web/in_process.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from app.main import create_app
from app.services import HurenApp
from app.settings import Settings
from tests.people.conftest import MovableClock
from tests.processes import demo_passwords, free_port, huren_env, run_huren
from tests.web.in_process import serve_in_process

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@dataclass(frozen=True)
class InProcessNode:
    base: str
    app: HurenApp
    clock: MovableClock
    passwords: dict[str, str]


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessNode]:
    folder = tmp_path_factory.mktemp("in-process")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    database = folder / "node.db"
    env = huren_env(database, HUREN_PUBLIC_URL=base, HUREN_IMPORT_DIR=str(folder / "imports"))
    demo = run_huren(env, "demo")
    assert demo.returncode == 0, demo.stderr[-2000:]
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}", public_url=base, import_dir=folder / "imports"
    )
    app = create_app(settings)
    with serve_in_process(app, port) as url:
        clock = MovableClock()
        app.services.clock = clock  # read at every sign-in: from here on, the test says what time it is
        yield InProcessNode(url, app, clock, demo_passwords(demo.stdout))


def submit_sign_in(page: Page, password: str) -> int:
    """Submit the person form with `password`; the status of the sign-in answer, once the page has it."""
    page.fill("#password", password)
    with page.expect_response(lambda r: r.url.endswith("/v1/session") and r.request.method == "POST") as info:
        page.click("#person-sign-in")
    # The page handles the answer after it arrives: wait until the button is enabled again.
    page.wait_for_selector("#person-sign-in:enabled")
    return info.value.status


def test_five_failures_lock_the_name_until_the_window_ends(
    in_process: InProcessNode, browser: Browser, artifacts: Path
) -> None:
    page = browser.new_page(locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{in_process.base}/counter")
    page.fill("#username", "demo.clerk")
    for attempt in range(5):
        assert submit_sign_in(page, f"guess-{attempt}") == 401
        assert page.inner_text("#person-error") == "登录失败：用户名、密码或动态验证码不正确"

    # Locked: even the right password is refused, and the page says for how long (15 minutes by default).
    password = in_process.passwords["demo.clerk"]
    assert submit_sign_in(page, password) == 429
    message = page.inner_text("#person-error")
    assert "锁定" in message
    assert "15 分钟后再试" in message
    assert page.is_hidden("#enrol")
    page.screenshot(path=str(artifacts / "counter-person-locked.png"), full_page=True)

    in_process.clock.advance(minutes=10)
    assert submit_sign_in(page, password) == 429
    assert "5 分钟后再试" in page.inner_text("#person-error")

    # After the window the lock is gone: the right password is taken, and the first sign-in enrols.
    in_process.clock.advance(minutes=5, seconds=1)
    assert submit_sign_in(page, password) == 401
    page.wait_for_selector("#enrol", state="visible")
    assert page.is_hidden("#person-error")
    assert errors == []
    page.close()


def test_the_single_sign_on_link_shows_only_where_oidc_is_listed(
    in_process: InProcessNode, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{in_process.base}/counter")
    page.wait_for_selector("#sso[data-methods='password']", state="attached")
    assert page.is_hidden("#sso")

    services = in_process.app.services
    with_sso = services.settings.model_copy(
        update={
            "oidc_issuer": "https://idp.example.gov.cn/realms/staff",
            "oidc_client_id": "huren",
            "oidc_client_secret": SecretStr("not-used-here"),
        }
    )
    monkeypatch.setattr(services, "settings", with_sso)
    page.reload()
    page.wait_for_selector("#sso[data-methods='password oidc']", state="visible")
    assert page.inner_text("#sso-link") == "统一身份认证登录"
    assert page.get_attribute("#sso-link", "href") == "/auth/oidc/login?next=/counter"
    page.close()
