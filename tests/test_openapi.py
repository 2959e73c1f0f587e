"""The committed OpenAPI document is the app's: integrators read the file, so it must not drift."""

from __future__ import annotations

import json
from pathlib import Path

from app.openapi import render_openapi


def test_committed_spec_equals_the_app(repo_root: Path) -> None:
    committed = (repo_root / "openapi" / "openapi.json").read_text(encoding="utf-8")
    assert json.loads(committed) == json.loads(render_openapi()), "run `make openapi` and commit the result"


def test_spec_declares_the_contract_paths() -> None:
    paths = json.loads(render_openapi())["paths"]
    assert {
        "/v1/credentials",
        "/v1/credentials/{kind}/{region}/{number}",
        "/v1/credentials/{kind}/{region}/{number}/status",
        "/healthz",
        "/readyz",
    } <= set(paths)
