"""What the browser tests of single sign-on share: a demo node configured for the test provider, and a
person signing in at the provider's pages as a browser shows them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tests.processes import run_huren, serve
from tests.support.oidc_provider import ANY_PASSWORD, run_sso_federation

if TYPE_CHECKING:
    from playwright.sync_api import Page


@contextmanager
def serve_sso_demo(
    folder: Path, *, client_id: str, client_secret: str, group_map: dict[str, list[str]]
) -> Iterator[str]:
    """A `huren serve` with the demo data, trusting the test provider (both running until the block ends)."""
    with run_sso_federation(
        folder, client_id=client_id, client_secret=client_secret, group_map=group_map
    ) as (_, env, port):
        demo = run_huren(env, "demo")
        assert demo.returncode == 0, demo.stderr[-2000:]
        with serve(env, port, folder / "serve.log") as served:
            yield served


def sign_in_at_provider_page(page: Page, login: str, node: str) -> None:
    """The provider's development pages: the sign-in form, then the consent unless the provider already
    sent the browser back to `node`."""
    page.wait_for_selector("input[name=login]", timeout=10_000)
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", ANY_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if not page.url.startswith(node):  # the consent page
        page.click("button[type=submit]")
