"""The import endpoints the console reads: the job list, the paged error report (Chinese messages), the full
CSV report, and who may use them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.models import ImportRowError
from app.services import HurenApp
from tests.console.staff import staff_client
from tests.factories import title_payload
from tests.imports.test_import import flatten, to_csv, upload
from tests.people.conftest import MovableClock, NewPerson


def rows_with_errors() -> list[dict[str, str]]:
    good = flatten(title_payload())
    bad_id = {**flatten(title_payload()), "holder_id_number": "510104199001011234"}
    bad_date = {**flatten(title_payload()), "issued_on": "2099-01-01"}
    return [good, bad_id, bad_date]


async def test_errors_page_with_chinese_messages_and_the_csv_has_them_all(client: httpx.AsyncClient) -> None:
    job = (await upload(client, "title", to_csv("title", rows_with_errors()))).json()
    assert job["rejected"] == 2
    assert job["file_name"] == "rows.csv"
    assert job["actor"] is None
    first = (await client.get(job["errors_url"], params={"limit": 1})).json()
    assert first["total"] == 2
    assert first["next_cursor"]
    (error,) = first["errors"]
    assert (error["row"], error["column"], error["code"]) == (2, "holder_id_number", "id_number.checksum")
    assert error["message_zh"] == "身份证号码校验位错误"
    assert error["message"]
    second = (await client.get(job["errors_url"], params={"limit": 1, "cursor": first["next_cursor"]})).json()
    assert [e["row"] for e in second["errors"]] == [3]
    assert second["next_cursor"] is None
    assert second["total"] is None
    report = await client.get(job["errors_url"], headers={"Accept": "text/csv"})
    lines = list(csv.reader(io.StringIO(report.text)))
    assert [line[:3] for line in lines[1:]] == [
        ["2", "holder_id_number", "id_number.checksum"],
        ["3", "issued_on", "date.future"],
    ]
    assert lines[1][4] == "身份证号码校验位错误"
    bad = await client.get(job["errors_url"], params={"cursor": "nonsense"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["code"] == "cursor.invalid"


class Statements:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(statement)


@contextmanager
def watch(engine: AsyncEngine) -> Iterator[Statements]:
    statements = Statements()
    event.listen(engine.sync_engine, "before_cursor_execute", statements)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statements)


async def test_thousands_of_errors_come_a_bounded_page_at_a_time(
    client: httpx.AsyncClient, session: AsyncSession, app: HurenApp
) -> None:
    job = (await upload(client, "title", to_csv("title", rows_with_errors()))).json()
    planted = [
        {"job_id": job["id"], "row": 10 + i, "column": "issued_on", "code": "date.future", "message": "later"}
        for i in range(3000)
    ]
    await session.execute(insert(ImportRowError), planted)
    await session.flush()
    rows: list[int] = []
    cursor: str | None = None
    pages = 0
    with watch(app.services.engine) as statements:
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(job["errors_url"], params=params)).json()
            assert len(page["errors"]) <= 1000
            rows += [e["row"] for e in page["errors"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        error_reads = [s for s in statements.seen if "FROM import_row_errors" in s and "count" not in s]
    assert pages == 4
    assert rows == sorted(rows)
    assert len(rows) == len(set(rows)) == 3002
    # Every read of the report is bounded by the database, never fetched whole and cut in Python.
    assert error_reads
    assert all("LIMIT" in s for s in error_reads)
    report = await client.get(job["errors_url"], params={"format": "csv"})
    assert report.headers["content-disposition"].startswith("attachment")
    assert len(report.text.strip().splitlines()) == 3003


async def test_the_job_list_is_newest_first_paged_and_names_the_person(
    app: HurenApp, client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    await upload(client, "title", to_csv("title", [flatten(title_payload())]), name="by-client.csv")
    admin = await staff_client(app, "i.admin", "admin", new_person, clock)
    try:
        mine = await upload(admin, "title", to_csv("title", [flatten(title_payload())]), name="by-person.csv")
        assert mine.status_code == 201, mine.text
        listed = (await admin.get("/v1/imports", params={"limit": 1})).json()
        (newest,) = listed["items"]
        assert (newest["file_name"], newest["actor"]) == ("by-person.csv", "i.admin")
        older = (await admin.get("/v1/imports", params={"limit": 1, "cursor": listed["next_cursor"]})).json()
        assert older["items"][0]["file_name"] == "by-client.csv"
        assert older["items"][0]["actor"] is None
    finally:
        await admin.aclose()


async def test_clerks_and_auditors_may_not_import(
    app: HurenApp, client: httpx.AsyncClient, new_person: NewPerson, clock: MovableClock
) -> None:
    job = (await upload(client, "title", to_csv("title", rows_with_errors()))).json()
    for username, roles in (("i.clerk", "clerk"), ("i.auditor", "auditor")):
        caller = await staff_client(app, username, roles, new_person, clock)
        try:
            assert (await caller.get("/v1/imports")).status_code == 403
            assert (await caller.get(job["errors_url"])).status_code == 403
            refused = await upload(caller, "title", to_csv("title", [flatten(title_payload())]))
            assert refused.status_code == 403
        finally:
            await caller.aclose()
