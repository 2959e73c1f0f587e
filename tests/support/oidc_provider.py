"""The test OpenID provider (tests/oidc/provider.mjs, oidc-provider from npm) as a process, and a person
signing in at its development pages, driven with plain httpx so that no browser is needed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.processes import free_port, huren_env, stop_process

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc"
PROVIDER_SCRIPT = PROVIDER_DIR / "provider.mjs"
READY_LINE = "oidc-provider ready at "
# The dev pages ask for a password and ignore it; the form still needs one.
ANY_PASSWORD = "any-password"


class ProviderFailed(RuntimeError):
    pass


def find_node() -> str:
    """Node, once the provider package is installed; else a skip, or a failure where CI requires it."""
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed (apt-get install nodejs npm)"
    elif not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        missing = "the test OpenID provider is not installed (make unit runs npm ci in tests/oidc)"
    if missing is not None:
        # .ci/run installs node and npm and sets HUREN_REQUIRE_BROWSER: CI can never skip these silently.
        if os.environ.get("HUREN_REQUIRE_BROWSER"):
            pytest.fail(missing)
        pytest.skip(missing)
    assert node is not None
    return node


@contextmanager
def run_oidc_provider(
    *, client_id: str, client_secret: str, redirect_uri: str, groups_in_id_token: bool = False
) -> Iterator[str]:
    """Run the provider on a free port of 127.0.0.1 until the block ends; yields its issuer URL once its
    discovery document answers."""
    node = find_node()
    port = free_port()
    env = {
        **os.environ,
        "OIDC_CLIENT_ID": client_id,
        "OIDC_CLIENT_SECRET": client_secret,
        "OIDC_REDIRECT_URI": redirect_uri,
        "OIDC_GROUPS_IN_ID_TOKEN": "1" if groups_in_id_token else "0",
    }
    with tempfile.NamedTemporaryFile("w+", prefix="oidc-provider-", suffix=".log") as log:
        process = subprocess.Popen(
            [node, str(PROVIDER_SCRIPT), str(port)], env=env, stdout=log, stderr=log, cwd=PROVIDER_DIR
        )
        issuer = f"http://127.0.0.1:{port}"
        try:
            wait_for_discovery(issuer, process, Path(log.name))
            yield issuer
        finally:
            stop_process(process, timeout=10)


def wait_for_discovery(
    issuer: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ProviderFailed(f"the OpenID provider exited: {log_path.read_text()[-2000:]}")
        if READY_LINE in log_path.read_text():
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    raise ProviderFailed(f"the OpenID provider did not answer: {log_path.read_text()[-2000:]}")


class FormReader(HTMLParser):
    """The first form of a page: where it posts, and its named inputs with their values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self._in_form = attributes.get("action") or "", True
        elif tag == "input" and self._in_form and attributes.get("name"):
            self.fields[str(attributes["name"])] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def read_form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    reader = FormReader()
    reader.feed(page.text)
    if reader.action is None:
        raise AssertionError(f"no form on the provider's page {page.url}: {page.text[:500]}")
    return urljoin(str(page.url), reader.action), reader.fields


def sign_in_at_provider(client: httpx.Client, authorization_url: str, login: str) -> str:
    """Sign `login` in at the provider's development pages, as a person would: the sign-in form, then the
    consent form. Returns the URL the provider finally redirects to (our callback with `code` and `state`),
    without following it. `client` must not follow redirects itself; it keeps the provider's cookies."""
    provider = urlsplit(authorization_url).netloc
    response = client.get(authorization_url)
    for _ in range(12):
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if urlsplit(target).netloc != provider:
                return target
            response = client.get(target)
            continue
        if response.status_code != 200:
            raise AssertionError(f"the provider answered {response.status_code}: {response.text[:500]}")
        action, fields = read_form(response)
        if fields.get("prompt") == "login":
            fields.update(login=login, password=ANY_PASSWORD)
        response = client.post(action, data=fields)
    raise AssertionError(f"signing {login} in took too many steps; last page: {response.text[:500]}")


@contextmanager
def run_sso_federation(
    folder: Path, *, client_id: str, client_secret: str, group_map: dict[str, list[str]]
) -> Iterator[tuple[str, dict[str, str], int]]:
    """The provider running, registered for a huren node still to be started: yields the issuer, that node's
    environment (its own SQLite file in `folder`, single sign-on configured) and the port it must serve on."""
    port = free_port()
    node = f"http://127.0.0.1:{port}"
    with run_oidc_provider(
        client_id=client_id, client_secret=client_secret, redirect_uri=f"{node}/auth/oidc/callback"
    ) as issuer:
        env = huren_env(
            folder / "node.db",
            HUREN_PUBLIC_URL=node,
            HUREN_OIDC_ISSUER=issuer,
            HUREN_OIDC_CLIENT_ID=client_id,
            HUREN_OIDC_CLIENT_SECRET=client_secret,
            HUREN_OIDC_GROUP_MAP=json.dumps(group_map),
        )
        yield issuer, env, port
