"""The committed OpenAPI document is the app's: integrators read the file, so it must not drift."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.clients.schemas import SCOPE_NAMES, SCOPES_PATTERN
from app.openapi import render_openapi
from app.registry.schemas import ID_NUMBER_PATTERN, USCI_PATTERN
from app.security import ALL_SCOPES


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


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def property_of(spec: dict[str, Any], model: str, *path: str) -> dict[str, Any]:
    schema = spec["components"]["schemas"][model]
    for name in path:
        schema = resolve(spec, schema["properties"][name])
    options = schema.get("anyOf", [schema])  # an optional field: the value's schema, or null
    return resolve(spec, next(o for o in options if o.get("type") != "null"))


def test_spec_says_what_the_server_enforces() -> None:
    """Issue 13, defect 7: the upload's body, the template's media type and the shapes of fields."""
    spec = json.loads(render_openapi())
    upload = spec["paths"]["/v1/imports"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["required"] == ["file"]
    assert upload["properties"]["file"]["format"] == "binary"
    template = spec["paths"]["/v1/imports/templates/{kind}.csv"]["get"]["responses"]["200"]["content"]
    assert list(template) == ["text/csv"]
    # Each body that names a region, an ID number, a USCI or a code gives its shape.
    assert property_of(spec, "VerifyIn", "region")["pattern"] == "^[A-Z]{2}$"
    assert property_of(spec, "VerifyIn", "id_number")["pattern"] == "^[0-9A-Z]{5,18}$"
    assert property_of(spec, "HolderIn", "id_number")["pattern"] == "^[0-9A-Z]{5,18}$"
    assert property_of(spec, "IssuerIn", "usci")["pattern"].startswith("^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}")
    assert (
        property_of(spec, "ClientIn", "org_usci")["pattern"]
        == property_of(spec, "IssuerIn", "usci")["pattern"]
    )
    assert property_of(spec, "TitleIn", "title_code")["pattern"] == "^[0-9]{4}$"
    assert property_of(spec, "SkillIn", "occupation_code")["pattern"].startswith("^[1-8]-")
    assert property_of(spec, "IssuerIn", "level")["enum"] == ["province", "city", "district"]
    assert "pattern" in property_of(spec, "ClientIn", "scopes")


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (ID_NUMBER_PATTERN, ["510104198503121232", "E12345678", "H12345678"], ["5101", "51010419850312123x"]),
        (USCI_PATTERN, ["91500000MA5U1234X5"], ["91500000MA5U1234I5", "9150000MA5U1234X5"]),
        (SCOPES_PATTERN, ["verify", "verify registry:read", " admin "], ["", "root", "verify,admin"]),
    ],
)
def test_documented_shapes_hold_for_canonical_values(pattern: str, good: list[str], bad: list[str]) -> None:
    assert all(re.fullmatch(pattern, value) for value in good)
    assert not any(re.fullmatch(pattern, value) for value in bad)


def test_documented_scopes_are_the_servers() -> None:
    assert set(SCOPE_NAMES.split("|")) == ALL_SCOPES
