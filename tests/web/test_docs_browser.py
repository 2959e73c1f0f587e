"""The API docs in a real browser that can reach nothing but 127.0.0.1, as on a provincial intranet.

Every request the pages make goes through a route handler: one for any other host is aborted and recorded,
and the test fails if there was any. The docs must still draw the operations (Swagger UI) and the reference
(ReDoc) from the files the app serves. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def offline_page(browser: Browser) -> tuple[Page, list[str], list[str]]:
    """A page whose requests to any host but 127.0.0.1 fail; returns it, those requests, and its errors."""
    page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 1000})
    outside: list[str] = []
    errors: list[str] = []

    def only_local(route: Route) -> None:
        url = route.request.url
        # data: and blob: URLs stay inside the page; everything else must go to the node itself.
        if urlsplit(url).scheme in {"data", "blob"} or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(url)
            route.abort("internetdisconnected")

    page.route("**/*", only_local)
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A blocked script or style shows up as a console error ("Refused to ... Content Security Policy").
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return page, outside, errors


def test_swagger_ui_renders_offline(node: str, browser: Browser, artifacts: Path) -> None:
    page, outside, errors = offline_page(browser)
    page.goto(f"{node}/docs")
    verify = page.locator("#operations-verification-verify_v1_verify_post")
    verify.wait_for(state="visible", timeout=20_000)
    assert "/v1/verify" in verify.inner_text()
    assert page.locator(".opblock").count() >= 20  # every operation, not just the first
    page.screenshot(path=str(artifacts / "docs-swagger-ui.png"), full_page=False)
    assert outside == []
    assert errors == []
    page.close()


def test_redoc_renders_offline(node: str, browser: Browser, artifacts: Path) -> None:
    page, outside, errors = offline_page(browser)
    page.goto(f"{node}/redoc")
    verify = page.get_by_role("heading", name="Verify one credential")
    verify.wait_for(state="visible", timeout=20_000)
    assert page.get_by_text("/v1/verify", exact=True).count() >= 1
    page.screenshot(path=str(artifacts / "docs-redoc.png"), full_page=False)
    assert outside == []
    # ReDoc's side menu always shows Redocly's logo from their CDN: the page's policy refuses it before any
    # request is made (the route handler saw none), and ReDoc drops the image. That refusal is the only error.
    assert [error for error in errors if REDOCLY_LOGO not in error] == []
    page.close()
