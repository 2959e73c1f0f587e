"""The docs pages as HTML, without a browser: they name no origin but the app's, and every file they name is
served by the app itself (the browser test checks that the viewers then draw the API)."""

from __future__ import annotations

import re

import httpx
import pytest

ABSOLUTE_URL = re.compile(r"https?://[^\s\"'<>]+")
NAMED_FILE = re.compile(r"""(?:src|href)="([^"]+)\"""")


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_pages_need_no_other_origin(anonymous: httpx.AsyncClient, path: str) -> None:
    page = await anonymous.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    own = str(anonymous.base_url).rstrip("/")
    assert [url for url in ABSOLUTE_URL.findall(page.text) if not url.startswith(own)] == []
    policy = page.headers["content-security-policy"]
    assert "http" not in policy
    assert "script-src 'self';" in policy  # no inline script, no other origin
    assert "frame-ancestors 'none'" in policy
    named = NAMED_FILE.findall(page.text)
    assert len(named) >= 3  # the favicon, the viewer and docs.js at least
    for url in named:
        served = await anonymous.get(url)
        assert served.status_code == 200, url
        assert served.content, url
    assert "/openapi.json" in page.text


async def test_only_the_listed_docs_files_are_served(anonymous: httpx.AsyncClient) -> None:
    for path in ("/docs/static/..%2Fdocs.py", "/docs/static/index.html", "/docs/oauth2-redirect"):
        answer = await anonymous.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json", path
    script = await anonymous.get("/docs/static/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
