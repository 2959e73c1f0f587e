"""`next=` after a sign-in goes only to paths of this node (no open redirect)."""

from __future__ import annotations

import pytest

from app.people.redirects import DEFAULT_LANDING, safe_next_path


@pytest.mark.parametrize("path", ["/admin", "/counter", "/admin/imports?kind=title#errors", "/v1/session"])
def test_paths_of_this_node_are_kept(path: str) -> None:
    assert safe_next_path(path) == path


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/admin",
        "//evil.example/admin",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/ /evil.example",
        "/%0a/evil",  # kept: percent-encoded, it is a path of ours (see below)
        "javascript:alert(1)",
        "admin",
        "http:/evil.example",
        "/" + "a" * 600,
    ],
)
def test_anything_else_lands_on_the_default(target: str | None) -> None:
    expected = target if target == "/%0a/evil" else DEFAULT_LANDING
    assert safe_next_path(target) == expected
