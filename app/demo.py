"""A believable demo data set for both regions: fictitious people with valid numbers, real code tables."""

from __future__ import annotations

import csv
import random
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record_event
from app.clients.service import create_client
from app.domain.errors import ForbiddenTransition
from app.domain.identity import compute_resident_id_check
from app.domain.kinds import KINDS
from app.domain.uscc import compute_uscc_check
from app.imports.jobs import ImportDeps, create_job, run_job
from app.imports.parsing import COLUMNS
from app.imports.uploads import store_file
from app.imports.validation import flatten_payload
from app.models import CardClass, CardService, Client, Credential, StaffMember, TitleCode
from app.passwords import hash_secret
from app.people.accounts import Actor, create_staff, find_staff, new_initial_password, reset_factor
from app.people.roles import load_role_scopes
from app.registry import service
from app.security import ALL_SCOPES
from app.settings import Settings

SEED = 20200421  # the day the framework agreement was signed: the demo is the same on every machine
PER_REGION = {"title": 150, "skill": 150, "card": 120}
COUNTIES = {
    "SC": [
        "510104",
        "510105",
        "510106",
        "510107",
        "510108",
        "510112",
        "510113",
        "510302",
        "510703",
        "511602",
    ],
    "CQ": [
        "500101",
        "500103",
        "500104",
        "500105",
        "500106",
        "500107",
        "500108",
        "500112",
        "500113",
        "500116",
    ],
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国志红文斌宇浩然欣怡子涵梓轩俊熙"
# Work permits: a few per region, one of each class (A 高端 in SC recognised in CQ, B in CQ recognised in SC
# only within 川渝高竹新区, C recognised nowhere), held by foreign nationals (passports).
PERMIT_CLASSES = ("A", "B", "C")
FOREIGN_NAMES = ["JOHN SMITH", "MARIA GARCIA", "YUKI TANAKA", "OLIVIER MARTIN", "ANNA MÜLLER", "KIM MINJUN"]
PERMIT_ISSUERS = {"SC": ("四川省科学技术厅", "KJ510001"), "CQ": ("重庆市科学技术局", "KJ500001")}
SPECIAL_NAMES = ["欧阳雨桐", "阿卜杜拉·买买提", "扎西·次仁", "𠮷田丽"]
ISSUERS: dict[str, list[tuple[str, str, str]]] = {
    # (name, level, 9-character organisation code stem); all fictitious except the authority names.
    "SC": [
        ("四川省人力资源和社会保障厅", "province", "00802001X"),
        ("成都市人力资源和社会保障局", "city", "00802002X"),
        ("绵阳市人力资源和社会保障局", "city", "00802003X"),
        ("成都市锦江区人力资源和社会保障局", "district", "00802004X"),
    ],
    "CQ": [
        ("重庆市人力资源和社会保障局", "province", "00902001X"),
        ("重庆市渝中区人力资源和社会保障局", "district", "00902002X"),
        ("重庆市万州区人力资源和社会保障局", "district", "00902003X"),
    ],
}
OCCUPATIONS = [
    ("6-31-01-03", "机床装调维修工"),
    ("6-25-04-01", "汽车生产线操作调整工"),
    ("4-03-02-01", "中式烹调师"),
    ("6-28-01-14", "电工"),
    ("4-10-01-02", "养老护理员"),
    ("6-29-03-05", "焊工"),
]
CARD_SYSTEM = {"SC": "sc-tianfu", "CQ": "cq-yingcai"}
# Cards of a region's newer system, beside the older ones (which keep verifying until they expire): (system,
# count, first issue date). Each set draws from a random stream of its own, so the older cards stay the same.
NEWER_CARD_SYSTEMS = {"CQ": [("cq-xinchongqing", 24, date(2025, 1, 1))]}

# A SAMPLE of shortage-catalogue entries, made up for the demo: huren ships none of the real catalogue's 1,458
# posts (an admin imports them, kind=catalogue). Every post and cluster says 示例 so that nobody takes it for
# the published catalogue. (cluster, post, title series, occupation code, urgency, region; "" = none / both.)
DEMO_CATALOGUE = [
    ("示例集群·电子信息", "集成电路设计工程师（示例）", "05", "", "重度", ""),
    ("示例集群·电子信息", "嵌入式软件工程师（示例）", "05", "", "中度", "SC"),
    ("示例集群·汽车", "新能源汽车电控工程师（示例）", "05", "", "重度", "CQ"),
    ("示例集群·汽车", "汽车生产线操作调整工（示例）", "", "6-25-04-01", "中度", "CQ"),
    ("示例集群·装备制造", "数控机床装调维修工（示例）", "", "6-31-01-03", "重度", ""),
    ("示例集群·装备制造", "焊工（示例）", "", "6-29-03-05", "轻度", "SC"),
    ("示例集群·医药健康", "临床医师（示例）", "04", "", "重度", ""),
    ("示例集群·医药健康", "护理人员（示例）", "04", "", "中度", "CQ"),
    ("示例集群·医药健康", "养老护理员（示例）", "", "4-10-01-02", "轻度", ""),
    ("示例集群·能源化工", "电工（示例）", "", "6-28-01-14", "中度", ""),
    ("示例集群·教育科研", "高校专业课教师（示例）", "01", "", "轻度", "SC"),
    ("示例集群·教育科研", "科研助理（示例）", "03", "", "轻度", ""),
]
# Development only (`huren demo` refuses production): the secrets are published here on purpose.
DEMO_CLIENTS = [
    ("demo-admin", "省级管理员（演示）", "SC", " ".join(sorted(ALL_SCOPES - {"federation"}))),
    ("demo-hr-cq", "重庆某人力资源系统（演示）", "CQ", "verify registry:read"),
    ("demo-counter-cq", "重庆人才服务窗口（演示）", "CQ", "verify cards:issue"),
    ("demo-counter-sc", "四川人才服务窗口（演示）", "SC", "verify cards:issue"),
]

# Development only too, but with random passwords: a person signs in to the counter page, and a published
# password there would teach the habit. New at every run (a password is shown once and not kept), printed
# by the guide.
DEMO_PEOPLE: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("demo.clerk", "演示窗口", ("CQ",), ("clerk",)),
    ("demo.admin", "演示管理员", ("SC", "CQ"), ("admin",)),
]
DEMO_ACTOR = Actor(client_id="demo")


@dataclass(frozen=True)
class DemoPerson:
    username: str
    display_name: str
    regions: tuple[str, ...]
    roles: tuple[str, ...]
    password: str


@dataclass(frozen=True)
class DemoSummary:
    counts: dict[str, int]
    people: list[DemoPerson]


def demo_secret(client_id: str) -> str:
    return f"{client_id}-secret"


async def ensure_demo_clients(session: AsyncSession) -> list[str]:
    created = []
    for client_id, name, region, scopes in DEMO_CLIENTS:
        if await session.scalar(select(Client.id).where(Client.client_id == client_id)) is None:
            await create_client(
                session,
                name=name,
                region=region,
                scopes=scopes,
                client_id=client_id,
                secret=demo_secret(client_id),
            )
            created.append(client_id)
    return created


async def ensure_demo_people(session: AsyncSession, settings: Settings, now: datetime) -> list[DemoPerson]:
    """Create the demo people, or give those that exist a fresh password and no factor: either way the
    guide can print a password that works, and the first sign-in enrols an authenticator app."""
    known = [*settings.regions, *settings.peers]
    role_scopes = await load_role_scopes(session)
    people = []
    for username, display_name, wanted, roles in DEMO_PEOPLE:
        # A node of one region without peers knows only its own: the people keep the regions it knows.
        regions = tuple(region for region in wanted if region in known)
        if not regions:
            continue
        member = await find_staff(session, username)
        if member is None:
            member, password = await create_staff(
                session,
                username=username,
                display_name=display_name,
                regions=regions,
                roles=roles,
                known_regions=known,
                role_scopes=role_scopes,
                actor=DEMO_ACTOR,
            )
            assert password is not None  # a local account always gets one
        elif member.disabled_at is not None or member.source != "local":
            continue  # disabled (or changed) by an admin since: their change stands, as for statuses
        else:
            password = await renew_demo_password(session, member, now)
        people.append(DemoPerson(member.username, member.display_name, regions, roles, password))
    return people


async def renew_demo_password(session: AsyncSession, member: StaffMember, now: datetime) -> str:
    password = new_initial_password()
    member.password_hash = hash_secret(password)
    record_event(
        session, "staff.password_reset", client_id=DEMO_ACTOR.client_id, object_ref=f"staff:{member.username}"
    )
    # Whoever enrolled the last run's factor is not necessarily whoever reads this run's password.
    await reset_factor(session, member.username, actor=DEMO_ACTOR, now=now)
    return password


def make_usci(region: str, stem: str) -> str:
    body = f"11{'510000' if region == 'SC' else '500000'}{stem[:8]}0"
    return body + compute_uscc_check(body)


def make_resident_id(rng: random.Random, region: str) -> str:
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
    first17 = f"{rng.choice(COUNTIES[region])}{born:%Y%m%d}{rng.randrange(1, 999):03d}"
    return first17 + compute_resident_id_check(first17)


def make_name(rng: random.Random, index: int) -> str:
    if index % 37 == 0:
        return SPECIAL_NAMES[(index // 37) % len(SPECIAL_NAMES)]
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def make_common(
    rng: random.Random, region: str, index: int, since: date = date(2016, 1, 1)
) -> dict[str, Any]:
    issuer_name, level, stem = rng.choice(ISSUERS[region])
    issued = since + timedelta(days=rng.randrange((date(2025, 12, 31) - since).days))
    return {
        "region": region,
        "holder": {
            "name": make_name(rng, index),
            "id_type": "resident_id",
            "id_number": make_resident_id(rng, region),
        },
        "issuer": {"name": issuer_name, "usci": make_usci(region, stem), "level": level},
        "issued_on": issued.isoformat(),
    }


async def build_payloads(session: AsyncSession, region: str) -> list[dict[str, Any]]:
    rng = random.Random(f"{SEED}-{region}")
    title_codes = (await session.scalars(select(TitleCode.code).order_by(TitleCode.code))).all()
    classes = (
        await session.scalars(
            select(CardClass.code)
            .where(CardClass.system_code == CARD_SYSTEM[region])
            .order_by(CardClass.code)
        )
    ).all()
    services = (
        await session.scalars(
            select(CardService.code)
            .where(CardService.system_code == CARD_SYSTEM[region])
            .order_by(CardService.code)
        )
    ).all()
    province = "51" if region == "SC" else "50"
    payloads = []
    for i in range(PER_REGION["title"]):
        common = make_common(rng, region, i)
        issued = date.fromisoformat(common["issued_on"])
        payloads.append(
            {
                **common,
                "kind": "title",
                "number": f"{province}ZC{issued.year}{i + 1:06d}",
                "title_code": rng.choice(title_codes),
                "specialty": rng.choice(["机械工程", "临床医学", "计算机应用", "会计", "土木工程"]),
                "obtained_on": (issued - timedelta(days=60)).isoformat(),
                "approval_no": f"人社职评〔{issued.year}〕{rng.randrange(1, 99)}号",
            }
        )
    for i in range(PER_REGION["skill"]):
        common = make_common(rng, region, 1000 + i, since=date(2020, 1, 1))  # national numbers began in 2020
        level = rng.randint(1, 5)
        issued = date.fromisoformat(common["issued_on"])
        code, name = rng.choice(OCCUPATIONS)
        site = rng.randrange(10**6)
        number = f"{rng.choice('SY')}0000{province}{site:06d}{issued.year % 100:02d}{level}{i + 1:06d}"
        payloads.append(
            {
                **common,
                "kind": "skill",
                "number": number,
                "occupation_code": code,
                "occupation_name": name,
                "level": level,
            }
        )
    for i in range(PER_REGION["card"]):
        common = make_common(rng, region, 2000 + i)
        issued = date.fromisoformat(common["issued_on"])
        card_class = rng.choice(classes)
        payloads.append(
            {
                **common,
                "kind": "card",
                "number": f"{region}YC{issued.year}{card_class}{i + 1:05d}",
                "card_system": CARD_SYSTEM[region],
                "card_class": card_class,
                "valid_from": issued.isoformat(),
                "valid_until": (issued + timedelta(days=3 * 365)).isoformat(),
                "entitlements": sorted(rng.sample(list(services), k=min(4, len(services)))),
            }
        )
    for system, count, since in NEWER_CARD_SYSTEMS.get(region, []):
        payloads += await newer_card_payloads(session, region, system, count, since)
    payloads += build_permits(rng, region)
    return payloads


async def newer_card_payloads(
    session: AsyncSession, region: str, system: str, count: int, since: date
) -> list[dict[str, Any]]:
    rng = random.Random(f"{SEED}-{region}-{system}")
    classes = (
        await session.scalars(
            select(CardClass.code).where(CardClass.system_code == system).order_by(CardClass.code)
        )
    ).all()
    services = (
        await session.scalars(
            select(CardService.code).where(CardService.system_code == system).order_by(CardService.code)
        )
    ).all()
    payloads = []
    for i in range(count):
        common = make_common(rng, region, 3000 + i, since=since)
        issued = date.fromisoformat(common["issued_on"])
        card_class = rng.choice(classes)
        payloads.append(
            {
                **common,
                "kind": "card",
                "number": f"{region}XC{issued.year}{card_class}{i + 1:05d}",
                "card_system": system,
                "card_class": card_class,
                "valid_from": issued.isoformat(),
                # The new card's validity is unknown (card_systems.json): the demo gives it five years.
                "valid_until": (issued + timedelta(days=5 * 365)).isoformat(),
                "entitlements": sorted(rng.sample(list(services), k=min(4, len(services)))),
            }
        )
    return payloads


# Levels of the eight-level scheme (codes 6-8, app/reference/data/skill_levels.json): per region one
# 特级技师 (7) and one 学徒工 (6), numbered in the *assumed* national-eight-level form
# (skill_number_formats.json), issued by an employer (Y) since the new levels date from 2022. Their own
# generator and serials, so the five-level demo rows stay as they were.
NEW_LEVEL_CERTIFICATES = ((7, "6-29-03-05", "焊工"), (6, "6-31-01-03", "机床装调维修工"))


def build_new_level_payloads(region: str) -> list[dict[str, Any]]:
    rng = random.Random(f"{SEED}-{region}-eight-level")
    province = "51" if region == "SC" else "50"
    payloads = []
    for i, (level, code, name) in enumerate(NEW_LEVEL_CERTIFICATES):
        common = make_common(rng, region, 3000 + i, since=date(2022, 1, 1))
        issued = date.fromisoformat(common["issued_on"])
        site = rng.randrange(10**6)
        number = f"Y0000{province}{site:06d}{issued.year % 100:02d}{level}{900001 + i:06d}"
        payloads.append(
            {
                **common,
                "kind": "skill",
                "number": number,
                "occupation_code": code,
                "occupation_name": name,
                "level": level,
            }
        )
    return payloads


def build_permits(rng: random.Random, region: str) -> list[dict[str, Any]]:
    issuer_name, stem = PERMIT_ISSUERS[region]
    permits = []
    for i, permit_class in enumerate(PERMIT_CLASSES):
        issued = date(2024, 1, 1) + timedelta(days=rng.randrange(700))
        employer = f"91{'510100' if region == 'SC' else '500000'}MA{rng.randrange(10**6):06d}0"
        permits.append(
            {
                "kind": "permit",
                "region": region,
                # 18 digits, one per person for life; the demo's own numbering, not a real scheme.
                "number": f"{'51' if region == 'SC' else '50'}{issued:%Y%m%d}{rng.randrange(10**8):08d}",
                "holder": {
                    "name": FOREIGN_NAMES[(i + (3 if region == "CQ" else 0)) % len(FOREIGN_NAMES)],
                    "id_type": "passport",
                    "id_number": f"E{rng.randrange(10**8):08d}",
                },
                "issuer": {"name": issuer_name, "usci": make_usci(region, stem), "level": "province"},
                "issued_on": issued.isoformat(),
                "valid_from": issued.isoformat(),
                "valid_until": (issued + timedelta(days=3 * 365)).isoformat(),
                "permit_class": permit_class,
                "employer_name": rng.choice(
                    ["示例智能制造有限公司", "示例生物医药有限公司", "示例软件有限公司"]
                ),
                "employer_usci": employer + compute_uscc_check(employer),
            }
        )
    return permits


async def load_demo(deps: ImportDeps, settings: Settings) -> DemoSummary:
    """Load the demo through the bulk import, as an admin would: re-running it imports nothing new.

    Statuses are then set on credentials whose status was never changed, so a second run changes nothing and
    an admin's later changes stand.
    """
    async with deps.sessionmaker() as session:
        # Only the regions this node holds: a node of one region never holds the other's people.
        held = [region for region in ("SC", "CQ") if region in settings.regions]
        payloads = [p for region in held for p in await build_payloads(session, region)]
    # Imported with the rest but left out of the status changes below: they stay valid, to be verified.
    new_levels = [p for region in held for p in build_new_level_payloads(region)]
    created = 0
    with tempfile.TemporaryDirectory() as scratch:
        for kind in KINDS:
            rows = [p for p in payloads if p["kind"] == kind] + (new_levels if kind == "skill" else [])
            created += await import_demo_rows(deps, settings, Path(scratch), kind, rows)
        await import_demo_catalogue(deps, settings, Path(scratch))
    async with deps.sessionmaker() as session:
        for index, payload in enumerate(payloads):
            await apply_demo_status(session, payload["kind"], payload["region"], payload["number"], index)
        await ensure_demo_clients(session)
        people = await ensure_demo_people(session, settings, datetime.now(UTC))
        counts = dict(
            (await session.execute(select(Credential.status, func.count()).group_by(Credential.status))).all()
        )
        await session.commit()
    return DemoSummary({"created": created, **counts}, people)


async def import_demo_rows(
    deps: ImportDeps, settings: Settings, scratch: Path, kind: str, payloads: list[dict[str, Any]]
) -> int:
    path = scratch / f"demo-{kind}.csv"
    write_demo_file(path, kind, [flatten_payload(p) for p in payloads])
    return await run_demo_import(deps, settings, path, kind)


async def import_demo_catalogue(deps: ImportDeps, settings: Settings, scratch: Path) -> int:
    """The sample entries of the 2023 edition (DEMO_CATALOGUE), imported as an admin imports an edition."""
    path = scratch / "demo-catalogue.csv"
    names = ("cluster", "post", "title_series", "occupation_code", "urgency", "region")
    write_demo_file(
        path, "catalogue", [{"edition": "2023", **dict(zip(names, e, strict=True))} for e in DEMO_CATALOGUE]
    )
    return await run_demo_import(deps, settings, path, "catalogue")


def write_demo_file(path: Path, kind: str, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS[kind]))
        writer.writeheader()
        writer.writerows(rows)


async def run_demo_import(deps: ImportDeps, settings: Settings, path: Path, kind: str) -> int:
    with path.open("rb") as source:
        stored = store_file(source, settings.import_dir)
    job, _ = await create_job(
        deps,
        client_id="demo",
        actor=None,
        kind=kind,
        mode="commit",
        on_error="abort",
        idempotency_key=None,
        stored=stored,
        file_name=path.name,
        file_format="csv",
        charset=None,
        default_region=None,
    )
    finished = await run_job(deps, job.id)
    if finished.status != "succeeded":
        raise RuntimeError(f"the demo {kind} rows did not import: {finished.problem}")
    return finished.inserted


async def apply_demo_status(session: AsyncSession, kind: str, region: str, number: str, index: int) -> None:
    """Suspend about one in eleven and revoke about one in seventeen, where the state machine allows it."""
    if index % 11 == 3:
        target, reason = "suspended", "演示：材料核查中"
    elif index % 17 == 5:
        target, reason = "revoked", "演示：以不正当手段取得"
    else:
        return
    changed_before = await session.scalar(
        select(Credential.status_changed_at).where(
            Credential.kind == kind, Credential.region_code == region, Credential.number == number
        )
    )
    if changed_before is not None:
        return  # set by an earlier run, or by an admin since
    try:
        async with session.begin_nested():
            await service.change_status(
                session, kind=kind, region=region, number=number, target=target, reason=reason, actor="demo"
            )
    except ForbiddenTransition:
        pass  # an expired card cannot be suspended: the demo keeps it expired


def print_demo_guide(console: Console, settings: Settings, summary: DemoSummary) -> None:
    table = Table(title=f"demo data ({' '.join(settings.regions)})")
    table.add_column("status")
    table.add_column("credentials", justify="right")
    for key, value in summary.counts.items():
        table.add_row(key, str(value))
    console.print(table)
    clients = Table(title="demo clients (development only)")
    for column in ("client_id", "client_secret", "region", "scopes"):
        clients.add_column(column)
    for client_id, _name, region, scopes in DEMO_CLIENTS:
        clients.add_row(client_id, demo_secret(client_id), region, scopes)
    console.print(clients)
    base = settings.public_url
    extract = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    console.print(f"API docs:  {base}/docs")
    console.print(f"Counter:   {base}/counter  (the clerk's page: sign in as a person)")
    console.print(f"Console:   {base}/admin  (the admins' console: sign in as demo.admin)")
    print_demo_people(console, summary.people)
    console.print(
        "  A counter device may sign in with a client instead (使用窗口设备凭据登录): "
        f"demo-counter-cq / {demo_secret('demo-counter-cq')}",
        highlight=False,
    )
    console.print(f"Health:    {base}/healthz")
    console.print(
        f"Catalogue: {base}/v1/catalogue?edition=2023  (a made-up 示例 sample, not the real 目录)",
        soft_wrap=True,
    )
    console.print("Get a token, then call the API with it:")
    console.print(
        f"  TOKEN=$(curl -s -u demo-admin:{demo_secret('demo-admin')} -d grant_type=client_credentials "
        f"{base}/oauth/token | {extract})",
        soft_wrap=True,
    )
    console.print(
        f"  curl -H \"Authorization: Bearer $TOKEN\" '{base}/v1/credentials?kind=title&limit=3'",
        soft_wrap=True,
    )
    console.print("A card's QR token for the counter page (paste it into the scan field):")
    console.print(
        f'  curl -s -X POST -H "Authorization: Bearer $TOKEN" {base}/v1/cards/SC/<SC card number>/token',
        soft_wrap=True,
    )


def print_demo_people(console: Console, people: list[DemoPerson]) -> None:
    """The demo sign-ins, one a line, each easy to copy. The passwords are printed on purpose: they are new
    at every run, this is their one showing, and `huren demo` refuses production."""
    if not people:
        return
    console.print("  Demo sign-ins (new passwords at every `huren demo`):")
    for person in people:
        console.print(
            f"    user {person.username}  password {person.password}"
            f"  ({person.display_name}; {','.join(person.roles)}; {','.join(person.regions)})",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        "  The first sign-in enrols an authenticator app: scan the QR code the page shows with any TOTP app"
        " (RFC 6238, e.g. FreeOTP, Google or Microsoft Authenticator), or type the secret shown under it,"
        " then enter the app's six-digit code.",
        soft_wrap=True,
    )
