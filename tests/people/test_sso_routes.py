"""Single sign-on through huren's own routes, end to end over HTTP: a real `huren serve` and a real OpenID
provider (oidc-provider, tests/oidc), a person signed in at the provider's pages, the session that follows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.processes import free_port, huren_env, run_huren, serve
from tests.support.oidc_provider import run_sso_federation, sign_in_at_provider

pytestmark = pytest.mark.slow

CLIENT_ID = "huren-sso-test"
CLIENT_SECRET = "huren-sso-test-secret-0123456789"
GROUP_MAP = {"huren-cq-clerk": ["clerk@CQ"], "huren-sc-admin": ["admin@SC"]}


@dataclass(frozen=True)
class Federation:
    """A huren node and the provider it trusts."""

    node: str
    issuer: str


@pytest.fixture(scope="module")
def sso_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    folder = tmp_path_factory.mktemp("sso")
    with run_sso_federation(
        folder, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, group_map=GROUP_MAP
    ) as (issuer, env, port):
        migrated = run_huren(env, "db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        # A local account whose name the provider also uses: never merged with the provider's person.
        local = run_huren(
            env,
            "staff",
            "create",
            "--username",
            "zhang.admin",
            "--display-name",
            "本地张",
            "--regions",
            "SC",
            "--roles",
            "admin",
            "--json",
        )
        assert local.returncode == 0, local.stderr
        with serve(env, port, folder / "serve.log") as base:
            yield Federation(base, issuer)


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """What a browser is to these routes: a cookie jar that does not follow redirects on its own."""
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        yield client


def sign_in_by_sso(
    browser: httpx.Client, node: str, login: str, next_path: str = "/counter"
) -> httpx.Response:
    """A browser's round trip: our login route, the provider's pages, our callback (its answer)."""
    start = browser.get(f"{node}/auth/oidc/login", params={"next": next_path})
    assert start.status_code == 302, start.text
    authorization = start.headers["location"]
    query = parse_qs(urlsplit(authorization).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"]
    assert query["nonce"]
    callback = sign_in_at_provider(browser, authorization, login)
    assert callback.startswith(f"{node}/auth/oidc/callback?")
    return browser.get(callback)


def test_a_person_with_a_mapped_group_gets_a_session_and_lands_where_they_asked(
    sso_node: Federation, browser: httpx.Client
) -> None:
    answer = sign_in_by_sso(browser, sso_node.node, "wang.clerk", "/counter?from=sso")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/counter?from=sso"
    session = browser.get(f"{sso_node.node}/v1/session").json()
    assert session["username"] == "wang.clerk"
    assert session["method"] == "oidc"
    assert session["roles"] == ["clerk"]
    assert session["regions"] == ["CQ"]
    assert session["display_name"] == "王小明"
    body = {"kind": "card", "region": "CQ", "number": "CQ-NOT-A-CARD", "name": "王小明"}
    verified = browser.post(
        f"{sso_node.node}/v1/verify", json=body, headers={"X-CSRF-Token": session["csrf_token"]}
    )
    assert verified.status_code in (200, 422), verified.text
    out = browser.delete(f"{sso_node.node}/v1/session", headers={"X-CSRF-Token": session["csrf_token"]})
    assert out.status_code == 204
    assert browser.get(f"{sso_node.node}/v1/session").status_code == 401


def test_a_person_with_no_mapped_role_is_refused(sso_node: Federation, browser: httpx.Client) -> None:
    answer = sign_in_by_sso(browser, sso_node.node, "li.norole")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/counter?sso_error=sso.refused"
    assert browser.get(f"{sso_node.node}/v1/session").status_code == 401


def test_a_provider_name_equal_to_a_local_accounts_is_not_merged(
    sso_node: Federation, browser: httpx.Client
) -> None:
    answer = sign_in_by_sso(browser, sso_node.node, "zhang.admin")
    assert answer.headers["location"] == "/counter?sso_error=sso.refused"
    assert browser.get(f"{sso_node.node}/v1/session").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_next_never_leads_off_this_node(sso_node: Federation, browser: httpx.Client, target: str) -> None:
    answer = sign_in_by_sso(browser, sso_node.node, "wang.clerk", target)
    assert answer.headers["location"] == "/counter"


def test_a_callback_without_the_browser_that_started_it_is_refused(
    sso_node: Federation, browser: httpx.Client
) -> None:
    """Login CSRF: an attacker's code and state, replayed into another browser, open no session there."""
    start = browser.get(f"{sso_node.node}/auth/oidc/login")
    callback = sign_in_at_provider(browser, start.headers["location"], "wang.clerk")
    with httpx.Client(follow_redirects=False, timeout=10) as victim:
        answer = victim.get(callback)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/counter?sso_error=sso.expired"
        assert victim.get(f"{sso_node.node}/v1/session").status_code == 401


def test_a_tampered_state_is_refused_and_the_login_cannot_be_retried(
    sso_node: Federation, browser: httpx.Client
) -> None:
    start = browser.get(f"{sso_node.node}/auth/oidc/login")
    callback = sign_in_at_provider(browser, start.headers["location"], "wang.clerk")
    tampered = callback.replace("state=", "state=x")
    assert browser.get(tampered).headers["location"] == "/counter?sso_error=sso.refused"
    # The login was used up by the refused attempt: the genuine answer no longer opens a session.
    assert browser.get(callback).headers["location"] == "/counter?sso_error=sso.expired"


def test_sso_is_not_found_where_it_is_not_configured(tmp_path: Path) -> None:
    port = free_port()
    env = huren_env(tmp_path / "node.db", HUREN_PUBLIC_URL=f"http://127.0.0.1:{port}")
    with serve(env, port, tmp_path / "serve.log") as base:
        answer = httpx.get(f"{base}/auth/oidc/login")
    assert answer.status_code == 404
    assert answer.json()["code"] == "sso.off"
