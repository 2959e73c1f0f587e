"""Admin routes for the recognition rules: they are data, changed here, with their legal basis and dates."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.request_session import SessionDep
from app.audit.service import record_request_event
from app.domain.calendar import china_today
from app.domain.date_windows import check_window
from app.domain.errors import DomainError
from app.domain.kinds import Kind
from app.domain.recognition import RecognitionMode, Rule, check_criteria
from app.errors import invalid_field
from app.models import Area, RecognitionRule, Region
from app.problems import problem_responses
from app.routing import AuthFirstRoute
from app.security import require_scope
from app.services import services_of
from app.verification.rules import RuleBook
from app.verification.rules_preview import RulePreview, preview_rule
from app.verification.schemas import AreaCode


class RulesServices(Protocol):
    """What this module reads of the worker's services (app.services; app.main checks the container fits)."""

    @property
    def rule_book(self) -> RuleBook: ...


def services(request: Request) -> RulesServices:
    view: RulesServices = services_of(request)
    return view


router = APIRouter(
    route_class=AuthFirstRoute,
    prefix="/v1/admin/recognition-rules",
    tags=["admin"],
    dependencies=[Depends(require_scope("admin"))],
    responses=problem_responses(404),
)
RuleCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    source_region: str = Field(pattern=r"^[A-Z]{2}$")
    target_region: str = Field(pattern=r"^[A-Z]{2}$")
    target_area: AreaCode | None = Field(
        default=None,
        description="an area code (GET /v1/reference/areas): the rule applies only to verifications naming "
        "this area; without it, everywhere in the target region",
    )
    mode: Literal["direct", "delegated", "mapped", "reciprocal"]
    criteria: dict[str, Any] = Field(max_length=20)
    equivalent: dict[str, Any] = Field(max_length=20)
    basis: str = Field(min_length=1, max_length=1000)
    effective_from: date = Field(description="the first day the rule applies")
    effective_until: date | None = Field(
        default=None,
        description="the first day the rule no longer applies: it applies on "
        "[effective_from, effective_until); null = open",
    )
    priority: int = Field(default=100, ge=0, le=10_000)
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def check_rule(self) -> RuleIn:
        if self.source_region == self.target_region:
            raise DomainError("rule.regions", "a rule recognises a credential in another region")
        # effective_until is the first day the rule no longer applies (app.domain.date_windows).
        check_window(self.effective_from, self.effective_until, "rule.dates")
        check_criteria(self.criteria)
        return self


class RuleOut(RuleIn):
    code: str


class RulePage(BaseModel):
    items: list[RuleOut]


def present_rule(rule: RecognitionRule) -> RuleOut:
    return RuleOut(
        code=rule.code,
        kind=rule.kind,
        source_region=rule.source_region,
        target_region=rule.target_region,
        target_area=rule.target_area,
        mode=rule.mode,
        criteria=rule.criteria,
        equivalent=rule.equivalent,
        basis=rule.basis,
        effective_from=rule.effective_from,
        effective_until=rule.effective_until,
        priority=rule.priority,
        note=rule.note,
    )


async def check_area(session: AsyncSession, area: str | None) -> None:
    if area is not None and await session.get(Area, area) is None:
        raise invalid_field("target_area", "area.unknown", "no such area")


@router.get("", response_model=RulePage, summary="Every recognition rule, in force or not")
async def list_rules(session: SessionDep) -> RulePage:
    rules = (await session.scalars(select(RecognitionRule).order_by(RecognitionRule.code))).all()
    return RulePage(items=[present_rule(rule) for rule in rules])


@router.put("/{code}", response_model=RuleOut, summary="Create or replace a recognition rule")
async def put_rule(
    code: RuleCode, payload: RuleIn, request: Request, session: SessionDep, background: BackgroundTasks
) -> RuleOut:
    for field in ("source_region", "target_region"):
        if await session.get(Region, getattr(payload, field)) is None:
            raise invalid_field(field, "region.unknown", "no such region")
    await check_area(session, payload.target_area)
    rule = await session.scalar(select(RecognitionRule).where(RecognitionRule.code == code))
    if rule is None:
        rule = RecognitionRule(code=code)
        session.add(rule)
    for name, value in payload.model_dump().items():
        setattr(rule, name, value)
    await session.flush()
    record_request_event(request, session, "recognition_rule.saved", object_ref=f"rule:{code}")
    # This process answers with the new rule at once (again after the commit, in case a verification re-read
    # the old rules in between); the other processes within rules_refresh_seconds.
    services(request).rule_book.invalidate()
    background.add_task(services(request).rule_book.invalidate)
    return present_rule(rule)


@router.post(
    "/{code}/preview",
    response_model=RulePreview,
    summary="Per kind, how many credentials this rule, saved as given, would recognise differently today",
)
async def preview_rule_change(code: RuleCode, payload: RuleIn, session: SessionDep) -> RulePreview:
    await check_area(session, payload.target_area)
    proposed = Rule(
        code=code,
        kind=payload.kind,
        source_region=payload.source_region,
        target_region=payload.target_region,
        mode=RecognitionMode(payload.mode),
        criteria=payload.criteria,
        equivalent=payload.equivalent,
        basis=payload.basis,
        effective_from=payload.effective_from,
        effective_until=payload.effective_until,
        priority=payload.priority,
        target_area=payload.target_area,
    )
    return await preview_rule(session, code, proposed, china_today())
