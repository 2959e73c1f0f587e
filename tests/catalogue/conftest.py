"""Fixtures for the shortage catalogue: a catalogue file imported through the bulk import, as admins do."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
import pytest

from app.catalogue.entries import COLUMNS

# The verification tests' callers of each region and their credential maker, for the shortage tests here.
from tests.verification.conftest import hr_cq as hr_cq
from tests.verification.conftest import hr_sc as hr_sc
from tests.verification.conftest import make_credential as make_credential

ImportCatalogue = Callable[..., Awaitable[dict[str, Any]]]


def entry(post: str, **values: str) -> dict[str, str]:
    """A catalogue row (made up: these are test posts, not the catalogue's)."""
    row = {"edition": "2023", "cluster": "测试集群", "post": post, "urgency": "重度"}
    row.update(values)
    return row


def catalogue_csv(rows: Sequence[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


async def upload_catalogue(
    client: httpx.AsyncClient, rows: Sequence[dict[str, str]], mode: str = "commit", **params: str
) -> httpx.Response:
    return await client.post(
        "/v1/imports",
        params={"kind": "catalogue", "mode": mode, **params},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        files={"file": ("catalogue.csv", catalogue_csv(rows), "text/csv")},
    )


@pytest.fixture
def import_catalogue(client: httpx.AsyncClient) -> ImportCatalogue:
    """Commit rows as the test admin; the job must succeed."""

    async def run(rows: Sequence[dict[str, str]], **params: str) -> dict[str, Any]:
        response = await upload_catalogue(client, rows, **params)
        assert response.status_code == 201, response.text
        job: dict[str, Any] = response.json()
        assert job["status"] == "succeeded", job
        return job

    return run
