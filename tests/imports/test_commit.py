"""What a commit stores equals what the registry stores: a credential created over the API and then imported
with the same values is unchanged, on both databases, for every kind."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

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


async def test_timestamps_are_stored_as_the_orm_stores_them(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The SQLite commit writes its rows through the driver: their stored text must be the ORM's."""
    made, imported = title_payload(), title_payload()
    assert (await client.post("/v1/credentials", json=made)).status_code == 201
    job = (await upload(client, "title", to_csv("title", [flatten(imported)]), mode="commit")).json()
    assert job["inserted"] == 1
    query = text(
        "SELECT c.created_at, c.updated_at, h.created_at, c.issued_on FROM credentials c "
        "JOIN holders h ON h.id = c.holder_id WHERE c.number = :number"
    )
    api_row = (await session.execute(query, {"number": made["number"]})).one()
    import_row = (await session.execute(query, {"number": imported["number"]})).one()
    for api_value, import_value in zip(api_row, import_row, strict=True):
        assert type(api_value) is type(import_value)
        if isinstance(api_value, str):  # SQLite: compare the stored text's shape
            assert re.sub("[0-9]", "0", api_value) == re.sub("[0-9]", "0", import_value)


async def test_the_sqlite_commit_gives_its_connection_back_as_it_was(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    if (await session.connection()).dialect.name != "sqlite":
        pytest.skip("a SQLite page-cache setting")
    before = (await session.execute(text("PRAGMA cache_size"))).scalar_one()
    job = (await upload(client, "title", to_csv("title", [flatten(title_payload())]), mode="commit")).json()
    assert job["inserted"] == 1
    assert (await session.execute(text("PRAGMA cache_size"))).scalar_one() == before


async def test_skip_leaves_out_rows_rejected_after_they_were_written(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """A duplicate found later rejects a row already in the scratch file: on_error=skip must not store it."""
    rows = [flatten(title_payload()) for _ in range(5)]
    rows.append({**flatten(title_payload()), "number": rows[0]["number"]})
    rows.append(
        {**flatten(title_payload()), "holder_id_number": rows[1]["holder_id_number"], "holder_name": "李四"}
    )
    job = (await upload(client, "title", to_csv("title", rows), mode="commit", on_error="skip")).json()
    assert (job["status"], job["rejected"], job["inserted"]) == ("succeeded", 4, 3), job
    numbers = [r["number"] for r in rows]
    stored = await session.scalars(
        text("SELECT number FROM credentials WHERE number IN :numbers").bindparams(
            bindparam("numbers", expanding=True)
        ),
        {"numbers": numbers},
    )
    assert set(stored.all()) == {r["number"] for r in rows[2:5]}


async def test_a_commit_in_many_chunks_is_still_all_or_nothing(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 5 rows: on PostgreSQL the streamed commit writes chunks of 50 while validation goes on, so
    # the duplicate in the last row is found after five chunks are already in the transaction.
    small = app.services.settings.model_copy(update={"import_batch_rows": 5, "import_inline_bytes": 10**7})
    monkeypatch.setattr(app.services, "settings", small)
    rows = [flatten(title_payload()) for _ in range(300)]
    numbers = [row["number"] for row in rows]
    late_duplicate = [*rows[:-1], {**rows[-1], "number": rows[2]["number"]}]

    async def stored() -> int:
        query = text("SELECT count(*) FROM credentials WHERE number IN :numbers").bindparams(
            bindparam("numbers", expanding=True)
        )
        return int((await session.execute(query, {"numbers": numbers})).scalar_one())

    job = (await upload(client, "title", to_csv("title", late_duplicate), mode="commit")).json()
    assert (job["status"], job["rejected"]) == ("failed", 2), job
    assert await stored() == 0
    job = (await upload(client, "title", to_csv("title", rows), mode="commit")).json()
    assert (job["status"], job["inserted"], job["updated"], job["unchanged"]) == ("succeeded", 300, 0, 0), job
    assert await stored() == 300
    job = (await upload(client, "title", to_csv("title", rows), mode="commit")).json()
    assert (job["inserted"], job["updated"], job["unchanged"]) == (0, 0, 300), job


async def errors_of(client: httpx.AsyncClient, job: dict[str, Any]) -> set[tuple[int, str | None, str]]:
    listed = (await client.get(job["errors_url"])).json()["errors"]
    return {(e["row"], e["column"], e["code"]) for e in listed}


@pytest.mark.parametrize("mode", ["validate", "commit"])
async def test_a_holder_registered_under_another_name_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, mode: str
) -> None:
    registered = title_payload()
    assert (await client.post("/v1/credentials", json=registered)).status_code == 201
    rows = [flatten(title_payload()) for _ in range(3)]
    rows[1] = {**rows[1], "holder_id_number": registered["holder"]["id_number"], "holder_name": "李四"}
    job = (await upload(client, "title", to_csv("title", rows), mode=mode)).json()
    assert await errors_of(client, job) == {(2, "holder_name", "holder.name_mismatch")}
    query = text("SELECT count(*) FROM credentials WHERE number IN :numbers").bindparams(
        bindparam("numbers", expanding=True)
    )
    assert (await session.execute(query, {"numbers": [r["number"] for r in rows]})).scalar_one() == 0


async def test_a_holder_named_twice_across_chunks_is_a_conflict_in_the_file(
    app: Any, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of 50 rows on PostgreSQL: row 120 names again, differently, a holder that row 1 brought in, and
    # row 1's chunk is already in the import's transaction when row 120 is checked.
    small = app.services.settings.model_copy(update={"import_batch_rows": 5, "import_inline_bytes": 10**7})
    monkeypatch.setattr(app.services, "settings", small)
    rows = [flatten(title_payload()) for _ in range(150)]
    rows[119] = {**rows[119], "holder_id_number": rows[0]["holder_id_number"], "holder_name": "李四"}
    job = (await upload(client, "title", to_csv("title", rows), mode="commit")).json()
    assert (job["status"], job["inserted"]) == ("failed", 0)
    # Tests share one connection, so here the look-up of registered holders also sees row 1's holder, which
    # the import has not committed (a worker's look-up runs on a connection of its own and does not).
    harness_only = {(120, "holder_name", "holder.name_mismatch")}
    assert (await errors_of(client, job)) - harness_only == {
        (1, "holder_name", "holder.name_conflict_in_file"),
        (120, "holder_name", "holder.name_conflict_in_file"),
    }


async def test_a_file_over_the_streaming_limit_takes_two_passes(
    app: Any, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.imports.set_based import StreamedUpsert

    async def not_streamed(self: StreamedUpsert, session: AsyncSession) -> None:
        raise AssertionError("a file over HUREN_IMPORT_STREAM_MAX_BYTES was streamed")

    monkeypatch.setattr(StreamedUpsert, "begin", not_streamed)
    small = app.services.settings.model_copy(update={"import_stream_max_bytes": 10})
    monkeypatch.setattr(app.services, "settings", small)
    rows = [flatten(title_payload()) for _ in range(3)]
    job = (await upload(client, "title", to_csv("title", rows), mode="commit")).json()
    assert (job["status"], job["inserted"]) == ("succeeded", 3), job


async def test_a_file_over_the_row_cap_after_some_chunks_stores_nothing(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On PostgreSQL two chunks of 50 are in the transaction when row 121 breaks the cap of 120.
    small = app.services.settings.model_copy(
        update={"import_batch_rows": 5, "import_inline_bytes": 10**7, "import_max_rows": 120}
    )
    monkeypatch.setattr(app.services, "settings", small)
    rows = [flatten(title_payload()) for _ in range(130)]
    answer = await upload(client, "title", to_csv("title", rows), mode="commit")
    assert answer.status_code == 413, answer.text
    assert answer.json()["code"] == "file.too_many_rows"
    query = text("SELECT count(*) FROM credentials WHERE number IN :numbers").bindparams(
        bindparam("numbers", expanding=True)
    )
    assert (await session.execute(query, {"numbers": [r["number"] for r in rows]})).scalar_one() == 0


@pytest.mark.parametrize("stream_max_bytes", [10**9, 10], ids=["streamed", "two-pass"])
async def test_a_person_named_by_several_rows_is_one_holder(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    stream_max_bytes: int,
) -> None:
    """Rows 1, 3 and 4 name one person (one chunk): one holder is registered, from the first of them, and all
    three credentials are theirs; the holders insert leaves the repeats to its ON CONFLICT."""
    small = app.services.settings.model_copy(update={"import_stream_max_bytes": stream_max_bytes})
    monkeypatch.setattr(app.services, "settings", small)
    rows = [flatten(title_payload()) for _ in range(4)]
    for index in (2, 3):
        rows[index] = {**rows[index], "holder_id_number": rows[0]["holder_id_number"]}
        rows[index]["holder_name"] = rows[0]["holder_name"]
    job = (await upload(client, "title", to_csv("title", rows), mode="commit")).json()
    assert (job["status"], job["inserted"]) == ("succeeded", 4), job
    query = text(
        "SELECT c.number, c.holder_id, h.name FROM credentials c JOIN holders h ON h.id = c.holder_id "
        "WHERE c.number IN :numbers"
    ).bindparams(bindparam("numbers", expanding=True))
    stored = {
        number: (holder, name)
        for number, holder, name in await session.execute(query, {"numbers": [row["number"] for row in rows]})
    }
    same = {stored[rows[index]["number"]] for index in (0, 2, 3)}
    assert same == {(stored[rows[0]["number"]][0], rows[0]["holder_name"])}
    assert stored[rows[1]["number"]][0] != stored[rows[0]["number"]][0]
    holder = await client.get(f"/v1/credentials/title/{rows[3]['region']}/{rows[3]['number']}")
    assert holder.status_code == 200, holder.text
