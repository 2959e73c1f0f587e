"""HUREN_OIDC_GROUP_MAP and the mapping of a person's groups to huren roles and regions."""

from __future__ import annotations

from typing import Any

import pytest

from app.people.oidc import OidcConfig, OidcError, map_grants, parse_group_map, read_identity

GROUP_MAP = {"huren-cq-clerk": ("clerk@CQ",), "huren-sc-admin": ("admin@SC", "auditor@CQ")}


def make_config(**changes: Any) -> OidcConfig:
    settings: dict[str, Any] = {
        "issuer": "https://idp.test",
        "client_id": "huren",
        "client_secret": "secret",
        "redirect_uri": "https://huren.test/auth/oidc/callback",
        "group_map": GROUP_MAP,
        **changes,
    }
    return OidcConfig(**settings)


def test_a_group_map_is_read() -> None:
    text = '{"huren-cq-clerk": ["clerk@CQ"], "huren-sc-admin": ["admin@SC", "auditor@CQ"]}'
    assert parse_group_map(text) == GROUP_MAP
    assert parse_group_map("{}") == {}


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("{", "is not JSON"),
        ('["clerk@CQ"]', "must be a JSON object"),
        ('{"g": "clerk@CQ"}', "needs a non-empty list of grants"),
        ('{"g": []}', "needs a non-empty list of grants"),
        ('{"": ["clerk@CQ"]}', "needs a non-empty list of grants"),
        ('{"g": [1]}', "must be strings"),
        ('{"g": ["clerk"]}', "is not role@REGION"),
        ('{"g": ["root@CQ"]}', "is not role@REGION"),
        ('{"g": ["clerk@BJ"]}', "is not role@REGION"),
        ('{"g": ["clerk@cq"]}', "is not role@REGION"),
    ],
)
def test_a_bad_group_map_is_refused_with_a_reason(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_group_map(text)


def test_a_config_with_a_bad_grant_fails_at_once() -> None:
    with pytest.raises(ValueError, match="is not role@REGION"):
        make_config(group_map={"g": ("boss@SC",)})


def test_the_client_secret_stays_out_of_the_config_repr() -> None:
    assert "secret" not in repr(make_config(client_secret="s3cr3t-value")).replace("client_secret", "")


@pytest.mark.parametrize(
    ("groups", "roles", "regions"),
    [
        (["huren-cq-clerk"], {"clerk"}, {"CQ"}),
        ("huren-cq-clerk", {"clerk"}, {"CQ"}),  # a lone group as a plain string
        (["huren-cq-clerk", "huren-sc-admin"], {"clerk", "admin", "auditor"}, {"CQ", "SC"}),
        (["staff", "huren-sc-admin"], {"admin", "auditor"}, {"SC", "CQ"}),  # unmapped groups are ignored
        ([], set(), set()),
        (None, set(), set()),
    ],
)
def test_groups_become_roles_and_regions(groups: Any, roles: set[str], regions: set[str]) -> None:
    claims = {"sub": "x"} if groups is None else {"sub": "x", "groups": groups}
    assert map_grants(claims, make_config()) == (frozenset(roles), frozenset(regions))


def test_the_claim_is_configurable() -> None:
    config = make_config(claim="roles")
    claims = {"roles": ["huren-cq-clerk"], "groups": ["huren-sc-admin"]}
    assert map_grants(claims, config) == (frozenset({"clerk"}), frozenset({"CQ"}))


@pytest.mark.parametrize("value", [7, {"huren-cq-clerk": True}, ["huren-cq-clerk", 7]])
def test_a_malformed_claim_is_refused(value: Any) -> None:
    with pytest.raises(OidcError, match="neither a string nor a list of strings"):
        map_grants({"groups": value}, make_config())


def test_the_identity_prefers_the_providers_names() -> None:
    claims = {
        "sub": "u-1",
        "preferred_username": "wang.clerk",
        "name": "王小明",
        "groups": ["huren-cq-clerk"],
    }
    identity = read_identity(claims, make_config())
    assert (identity.subject, identity.username, identity.display_name) == ("u-1", "wang.clerk", "王小明")


def test_the_identity_falls_back_to_the_subject() -> None:
    identity = read_identity({"sub": "u-1", "name": "  ", "groups": "huren-cq-clerk"}, make_config())
    assert (identity.username, identity.display_name) == ("u-1", "u-1")


def test_no_role_is_a_refusal() -> None:
    with pytest.raises(OidcError, match="no huren role is granted to this person"):
        read_identity({"sub": "u-1", "groups": ["staff"]}, make_config())
