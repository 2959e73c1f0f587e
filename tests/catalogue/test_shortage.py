"""`shortage` in verification answers: the catalogue posts a valid credential fills in the caller's region."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent, CatalogueEntry
from app.services import HurenApp
from tests.catalogue.conftest import ImportCatalogue, entry
from tests.factories import card_payload, skill_payload, title_payload
from tests.verification.conftest import MakeCredential, ask

CATALOGUE = [
    entry("测试岗位·重庆", title_series="05", urgency="轻度", region="CQ"),
    entry("测试岗位·两地", title_series="05", urgency="中度"),
    entry("测试岗位·四川", title_series="05", urgency="重度", region="SC"),
    entry("测试岗位·新版", title_series="05", urgency="重度", edition="2025"),
    entry("测试岗位·技能", occupation_code="6-31-01-03", urgency="重度", region="CQ"),
    entry("测试岗位·卫生", title_series="04", urgency="重度"),
]


async def verify(caller: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await caller.post("/v1/verify", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_title_names_the_posts_of_its_series_in_the_callers_region(
    hr_cq: httpx.AsyncClient,
    hr_sc: httpx.AsyncClient,
    make_credential: MakeCredential,
    import_catalogue: ImportCatalogue,
) -> None:
    payload = await make_credential(title_payload("SC", title_code="0502"))
    assert (await verify(hr_cq, ask(payload)))["shortage"] == []  # loads the index before the import
    await import_catalogue(CATALOGUE)  # tells this process's index at once
    # Most urgent first; the 2025 edition is not current, so its post is not named.
    assert (await verify(hr_cq, ask(payload)))["shortage"] == [
        {"edition": "2023", "post": "测试岗位·两地", "urgency": "moderate"},
        {"edition": "2023", "post": "测试岗位·重庆", "urgency": "mild"},
    ]
    assert (await verify(hr_sc, ask(payload)))["shortage"] == [
        {"edition": "2023", "post": "测试岗位·四川", "urgency": "severe"},
        {"edition": "2023", "post": "测试岗位·两地", "urgency": "moderate"},
    ]


async def test_other_series_unknown_numbers_and_cards_name_no_post(
    client: httpx.AsyncClient,
    hr_cq: httpx.AsyncClient,
    make_credential: MakeCredential,
    import_catalogue: ImportCatalogue,
) -> None:
    await import_catalogue(CATALOGUE)
    teacher = await make_credential(title_payload("SC", title_code="0102"))
    answer = await verify(hr_cq, ask(teacher))
    assert (answer["outcome"], answer["shortage"]) == ("valid", [])
    unknown = await verify(hr_cq, ask(teacher, number="T99999999"))
    assert (unknown["outcome"], unknown["shortage"]) == ("no_match", [])
    engineer = await make_credential(title_payload("SC", title_code="0502"))  # its series is listed
    wrong_holder = await verify(hr_cq, ask(engineer, name="李四"))
    assert (wrong_holder["outcome"], wrong_holder["shortage"]) == ("no_match", [])
    card = await make_credential(card_payload("CQ"))
    assert (await verify(hr_cq, ask(card)))["shortage"] == []
    token = (await client.post(f"/v1/cards/CQ/{card['number']}/token")).json()["token"]
    scanned = await hr_cq.post("/v1/verify/card-token", json={"token": token})
    assert scanned.status_code == 200, scanned.text
    assert (scanned.json()["outcome"], scanned.json()["shortage"]) == ("valid", [])


async def test_a_skill_matches_by_occupation_code_and_an_invalid_credential_fills_no_post(
    client: httpx.AsyncClient,
    hr_cq: httpx.AsyncClient,
    hr_sc: httpx.AsyncClient,
    make_credential: MakeCredential,
    import_catalogue: ImportCatalogue,
) -> None:
    await import_catalogue(CATALOGUE)
    skill = await make_credential(skill_payload("SC", occupation_code="6-31-01-03"))
    with_work_type = await make_credential(skill_payload("SC", occupation_code="6-31-01-03-02"))
    expected = [{"edition": "2023", "post": "测试岗位·技能", "urgency": "severe"}]
    assert (await verify(hr_cq, ask(skill)))["shortage"] == expected
    assert (await verify(hr_cq, ask(with_work_type)))["shortage"] == expected
    assert (await verify(hr_sc, ask(skill)))["shortage"] == []  # listed for Chongqing only
    title = await make_credential(title_payload("SC", title_code="0502"))
    revoked = await client.post(
        f"/v1/credentials/title/SC/{title['number']}/status", json={"status": "revoked", "reason": "测试"}
    )
    assert revoked.status_code == 200, revoked.text
    answer = await verify(hr_cq, ask(title))
    assert (answer["outcome"], answer["shortage"]) == ("revoked", [])


async def test_batch_answers_carry_each_items_posts(
    hr_cq: httpx.AsyncClient, make_credential: MakeCredential, import_catalogue: ImportCatalogue
) -> None:
    await import_catalogue(CATALOGUE)
    engineer = await make_credential(title_payload("SC", title_code="0502"))
    doctor = await make_credential(title_payload("CQ", title_code="0402"))
    teacher = await make_credential(title_payload("SC", title_code="0103"))
    response = await hr_cq.post(
        "/v1/verify/batch", json={"items": [ask(engineer), ask(teacher), ask(doctor)]}
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [[s["post"] for s in r["shortage"]] for r in results] == [
        ["测试岗位·两地", "测试岗位·重庆"],
        [],
        ["测试岗位·卫生"],
    ]


async def test_the_current_editions_are_what_answers_match(
    client: httpx.AsyncClient,
    hr_cq: httpx.AsyncClient,
    session: AsyncSession,
    make_credential: MakeCredential,
    import_catalogue: ImportCatalogue,
) -> None:
    await import_catalogue(CATALOGUE)
    payload = await make_credential(title_payload("SC", title_code="0505"))
    assert len((await verify(hr_cq, ask(payload)))["shortage"]) == 2
    # An admin switches the catalogue over to 2025: answers follow at once on this process.
    switched = await client.put("/v1/admin/catalogue-editions/2025", json={"current": True})
    assert switched.status_code == 200, switched.text
    retired = await client.put(
        "/v1/admin/catalogue-editions/2023", json={"current": False, "superseded_by": "2025"}
    )
    assert retired.json() == {"code": "2023", "current": False, "superseded_by": "2025"}
    assert (await verify(hr_cq, ask(payload)))["shortage"] == [
        {"edition": "2025", "post": "测试岗位·新版", "urgency": "severe"}
    ]
    events = (
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "catalogue_edition.changed"))
    ).all()
    assert [(e.object_ref, e.details) for e in events] == [
        ("catalogue-edition:2025", {"current": True, "superseded_by": None}),
        ("catalogue-edition:2023", {"current": False, "superseded_by": "2025"}),
    ]
    editions = (await client.get("/v1/reference/catalogue-editions")).json()["items"]
    assert {e["code"]: e["current"] for e in editions} == {"2023": False, "2025": True}


async def test_an_edition_change_names_existing_editions_and_needs_an_admin(
    client: httpx.AsyncClient, hr_cq: httpx.AsyncClient
) -> None:
    assert (await client.put("/v1/admin/catalogue-editions/1999", json={"current": True})).status_code == 404
    for other in ("1999", "2023"):
        refused = await client.put(
            "/v1/admin/catalogue-editions/2023", json={"current": False, "superseded_by": other}
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "superseded_by"
    assert (await hr_cq.put("/v1/admin/catalogue-editions/2023", json={"current": False})).status_code == 403


async def test_answers_read_the_index_held_in_memory_not_the_table(
    app: HurenApp,
    hr_cq: httpx.AsyncClient,
    session: AsyncSession,
    make_credential: MakeCredential,
    import_catalogue: ImportCatalogue,
) -> None:
    await import_catalogue(CATALOGUE)
    payload = await make_credential(title_payload("SC", title_code="0503"))
    named = (await verify(hr_cq, ask(payload)))["shortage"]
    assert len(named) == 2
    await session.execute(delete(CatalogueEntry))
    await session.flush()
    assert (await verify(hr_cq, ask(payload)))["shortage"] == named  # no query per verification
    app.services.catalogue.invalidate()  # what the refresh period, or an import here, does
    assert (await verify(hr_cq, ask(payload)))["shortage"] == []
