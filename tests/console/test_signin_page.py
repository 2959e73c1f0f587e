"""The sign-in page (/signin) is served with the strict policy, with only its own files."""

from __future__ import annotations

import httpx


async def test_the_sign_in_page_is_served_with_a_strict_policy(cookie_client: httpx.AsyncClient) -> None:
    page = await cookie_client.get("/signin?next=/admin")
    assert page.status_code == 200
    assert "工作人员登录" in page.text
    assert "<script>" not in page.text  # no inline script: the policy forbids it
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    for name in ("signin.js", "person-sign-in.js", "counter.css"):
        served = await cookie_client.get(f"/signin/static/{name}")
        assert served.status_code == 200, name
        assert "script-src 'self'" in served.headers["content-security-policy"]
    # The counter page imports the same sign-in module.
    assert (await cookie_client.get("/counter/static/person-sign-in.js")).status_code == 200
    assert (await cookie_client.get("/signin/static/counter.js")).status_code == 404
    assert (await cookie_client.get("/signin/static/..%2Froutes.py")).status_code == 404
