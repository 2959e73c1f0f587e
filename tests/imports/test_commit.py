"""What a commit stores equals what the registry stores: a credential created over the API and then imported
with the same values is unchanged, on both databases, for every kind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import card_payload, skill_payload, title_payload
from tests.imports.test_import import flatten, to_csv, upload


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("title", title_payload()),
        ("skill", skill_payload()),
        ("card", card_payload(entitlements=["hukou", "housing"])),
        ("card", card_payload(region="SC")),
    ],
)
async def test_an_api_credential_imported_again_is_unchanged(
    client: httpx.AsyncClient, kind: str, payload: dict[str, Any]
) -> None:
    created = await client.post("/v1/credentials", json=payload)
    assert created.status_code == 201, created.text
    job = (await upload(client, kind, to_csv(kind, [flatten(payload)]), mode="commit")).json()
    assert (job["status"], job["inserted"], job["updated"], job["unchanged"]) == ("succeeded", 0, 0, 1), job
    changed = {**flatten(payload), "issued_on": "2022-06-02"}
    job = (await upload(client, kind, to_csv(kind, [changed]), mode="commit")).json()
    assert (job["inserted"], job["updated"], job["unchanged"]) == (0, 1, 0), job
    stored = (await client.get(f"/v1/credentials/{kind}/{payload['region']}/{payload['number']}")).json()
    assert (stored["version"], stored["issued_on"]) == (2, "2022-06-02")
    assert stored.get("entitlements", []) == payload.get("entitlements", [])
