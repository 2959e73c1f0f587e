"""One catalogue row as a file or request brings it: checked by a model (shapes, urgency words) and then
against the code tables (edition, title series, region), each problem naming its column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalogue.schemas import Urgency
from app.domain.errors import DomainError
from app.models import CatalogueEdition, Region, TitleSeries
from app.problems import describe_validation_errors
from app.registry.schemas import Input, OccupationCode, RegionCode, Text100, Text200

# The catalogue grades posts 重度 / 中度 / 轻度; files may use those words or the API's names.
URGENCY_WORDS: dict[str, Urgency] = {"重度": "severe", "中度": "moderate", "轻度": "mild"}
URGENCY_ZH: dict[str, str] = {name: word for word, name in URGENCY_WORDS.items()}
# The import file's columns (app.imports.columns, kind=catalogue), in the template's order.
COLUMNS = ("edition", "cluster", "post", "title_series", "occupation_code", "urgency", "region")
REQUIRED_COLUMNS = ("edition", "cluster", "post", "urgency")


def urgency_name(value: Any) -> Any:
    if isinstance(value, str):
        word = value.strip()
        return URGENCY_WORDS.get(word, word.lower())
    return value


class EntryIn(Input):
    edition: Annotated[str, Field(min_length=1, max_length=16)]
    cluster: Text100
    post: Text200
    title_series: Annotated[str, Field(pattern=r"^[0-9]{2}$")] | None = None
    occupation_code: OccupationCode | None = None
    urgency: Annotated[Urgency, BeforeValidator(urgency_name)]
    # None: the post is listed for both regions.
    region: RegionCode | None = None

    @model_validator(mode="after")
    def check_asks_for(self) -> EntryIn:
        if self.title_series is None and self.occupation_code is None:
            raise DomainError(
                "catalogue.asks_for_missing", "give the title series or the occupation code the post asks for"
            )
        return self


@dataclass(frozen=True)
class Entry:
    """A checked row: what the store writes. `key` identifies it within the catalogue."""

    row: int
    edition: str
    cluster: str
    post: str
    title_series: str | None
    occupation_code: str | None
    urgency: str
    region: str | None

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        return (self.edition, self.cluster, self.post, self.region)

    @property
    def values(self) -> tuple[str | None, str | None, str]:
        return (self.title_series, self.occupation_code, self.urgency)


@dataclass(frozen=True)
class EntryProblem:
    column: str | None
    code: str
    message: str


@dataclass(frozen=True)
class CatalogueTables:
    editions: frozenset[str]
    series: frozenset[str]
    regions: frozenset[str]


async def load_catalogue_tables(session: AsyncSession) -> CatalogueTables:
    return CatalogueTables(
        editions=frozenset((await session.scalars(select(CatalogueEdition.code))).all()),
        series=frozenset((await session.scalars(select(TitleSeries.code))).all()),
        regions=frozenset((await session.scalars(select(Region.code))).all()),
    )


def column_of(field: str | None, code: str) -> str | None:
    if code == "catalogue.asks_for_missing":
        return "title_series"
    return field.split(".")[0] if field else None


def check_entry(
    row: int, values: dict[str, str | None], tables: CatalogueTables
) -> tuple[Entry | None, list[EntryProblem]]:
    """The row as an Entry, or every problem found in it (shapes first; code tables only for a sound row)."""
    try:
        model = EntryIn.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        described = describe_validation_errors(exc.errors())
        return None, [
            EntryProblem(column_of(e["field"], e["code"]), e["code"], e["message"]) for e in described
        ]
    problems = []
    if model.edition not in tables.editions:
        problems.append(EntryProblem("edition", "catalogue.edition_unknown", "no such catalogue edition"))
    if model.title_series is not None and model.title_series not in tables.series:
        problems.append(EntryProblem("title_series", "title_series.unknown", "no such title series"))
    if model.region is not None and model.region not in tables.regions:
        problems.append(EntryProblem("region", "region.unknown", "no such region"))
    if problems:
        return None, problems
    entry = Entry(
        row=row,
        edition=model.edition,
        cluster=model.cluster,
        post=model.post,
        title_series=model.title_series,
        occupation_code=model.occupation_code,
        urgency=model.urgency,
        region=model.region,
    )
    return entry, []
