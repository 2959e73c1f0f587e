"""The recognition rule preview: per kind, how many active credentials a proposed rule would recognise
differently today, against counts worked out by hand on a small registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.services import HurenApp
from tests.console.test_status_changes import create, person_client
from tests.factories import permit_payload, skill_payload, title_payload
from tests.people.conftest import MovableClock, NewPerson

RULES = "/v1/admin/recognition-rules"


@pytest.fixture
async def admin(
    app: HurenApp, new_person: NewPerson, clock: MovableClock
) -> AsyncIterator[httpx.AsyncClient]:
    client = await person_client(app, "rules.admin", "admin", new_person, clock)
    yield client
    await client.aclose()


@pytest.fixture
async def registry(client: httpx.AsyncClient) -> None:
    """SC skills: three active at level 3, two at level 4, one level 3 revoked, one level 3 past its last day;
    one CQ skill at level 3. (The SC title is made by the test: other tests' committed imports may hold SC
    titles too, so that count is taken against a baseline.)"""
    for _ in range(3):
        await create(client, skill_payload("SC", level=3))
    for _ in range(2):
        await create(client, skill_payload("SC", level=4))
    revoked = await create(client, skill_payload("SC", level=3))
    answer = await client.post(
        f"/v1/credentials/skill/SC/{revoked['number']}/status", json={"status": "revoked", "reason": "伪造"}
    )
    assert answer.status_code == 200
    await create(client, skill_payload("SC", level=3, valid_from="2020-01-01", valid_until="2023-01-01"))
    await create(client, skill_payload("CQ", level=3))


async def rule(admin: httpx.AsyncClient, code: str) -> dict[str, Any]:
    items = (await admin.get(RULES)).json()["items"]
    found = next(item for item in items if item["code"] == code)
    return {name: value for name, value in found.items() if name != "code"}


async def preview(admin: httpx.AsyncClient, code: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await admin.post(f"{RULES}/{code}/preview", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_counts_match_a_hand_computed_case(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, registry: None
) -> None:
    code = "skill-l3-mapped-SC-CQ"
    current = await rule(admin, code)
    # Unchanged: nothing differs.
    assert (await preview(admin, code, current))["counts"] == {"title": 0, "skill": 0, "card": 0, "permit": 0}
    # Not in force until 2099: the three active SC level-3 skills lose recognition in CQ (the revoked one,
    # the expired one and the CQ one were not recognised there by this rule anyway).
    later = await preview(admin, code, {**current, "effective_from": "2099-01-01"})
    assert later["counts"] == {"title": 0, "skill": 3, "card": 0, "permit": 0}
    assert later["total"] == 3
    # Widened to level 4: at equal priority the lower code wins, so the two level-4 skills change rule.
    wider = await preview(admin, code, {**current, "criteria": {"skill_levels": [3, 4]}})
    assert wider["counts"] == {"title": 0, "skill": 2, "card": 0, "permit": 0}
    # A new rule for titles, first in priority: the one senior title from a province is recognised otherwise.
    title_rule = await rule(admin, "title-senior-direct-SC-CQ")
    proposed = {**title_rule, "priority": 1, "mode": "delegated"}
    before = (await preview(admin, "title-new-test", proposed))["counts"]
    await create(client, title_payload("SC"))
    new = await preview(admin, "title-new-test", proposed)
    assert new["counts"] == {"title": before["title"] + 1, "skill": 0, "card": 0, "permit": 0}
    # Rewording the basis changes no credential's recognition.
    reworded = await preview(admin, code, {**current, "basis": "另一种表述"})
    assert reworded["total"] == 0
    # A preview saves nothing.
    assert await rule(admin, code) == current


async def test_a_proposal_is_checked_like_a_save(admin: httpx.AsyncClient) -> None:
    current = await rule(admin, "skill-l3-mapped-SC-CQ")
    answer = await admin.post(
        f"{RULES}/skill-l3-mapped-SC-CQ/preview", json={**current, "criteria": {"x": [1]}}
    )
    assert answer.status_code == 422


async def test_only_admins_may_preview(app: HurenApp, new_person: NewPerson, clock: MovableClock) -> None:
    for username, roles in (("rules.clerk", "clerk"), ("rules.auditor", "auditor")):
        client = await person_client(app, username, roles, new_person, clock)
        try:
            answer = await client.post(f"{RULES}/any-rule/preview", json={})
            assert answer.status_code == 403, (username, answer.status_code)
        finally:
            await client.aclose()


async def test_an_area_scoped_rule_is_previewed_in_its_area(
    admin: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    """The B-class pilot rule applies only in 川渝高竹新区: ending it changes the recognition of every active
    SC B-class permit there (counted against a baseline: other tests may have committed permits)."""
    code = "permit-B-gaozhu-pilot-SC-CQ"
    current = await rule(admin, code)
    assert current["target_area"] == "gaozhu"
    ended = {**current, "effective_from": "2099-01-01"}
    before = (await preview(admin, code, ended))["counts"]["permit"]
    for _ in range(2):
        await create(client, permit_payload("SC", "B"))
    await create(client, permit_payload("SC", "A"))
    assert (await preview(admin, code, ended))["counts"]["permit"] == before + 2
    unknown = await admin.post(f"{RULES}/{code}/preview", json={**current, "target_area": "nowhere"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["code"] == "area.unknown"
