"""Plain functions that build valid request bodies; every call gives new numbers."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from app.domain.identity import compute_resident_id_check
from app.domain.uscc import compute_uscc_check

_serial = itertools.count(1)
FACTORY_COUNTIES = {"SC": "510115", "CQ": "500114"}


def next_serial() -> int:
    return next(_serial)


def resident_id(region: str = "SC", serial: int | None = None) -> str:
    # One person per serial for ten million serials (birth day from the serial, sequence from the rest): tests
    # that commit tens of thousands of factory holders must not hand a later test someone else's number.
    # The counties are none of the demo's (app.demo.COUNTIES): a test that imports into a node loaded with the
    # demo would otherwise, a few serials in a million, name a demo holder under another name and be refused.
    serial = next_serial() if serial is None else serial
    address = FACTORY_COUNTIES[region]
    birth = date(1960, 1, 1) + timedelta(days=serial % 10_000)
    first17 = f"{address}{birth:%Y%m%d}{serial // 10_000 % 1000:03d}"
    return first17 + compute_resident_id_check(first17)


def usci(region: str = "SC", serial: int = 1) -> str:
    body = f"11{'510000' if region == 'SC' else '500000'}{serial:08d}0"
    return body + compute_uscc_check(body)


def base_payload(kind: str, region: str, **overrides: Any) -> dict[str, Any]:
    serial = next_serial()
    payload: dict[str, Any] = {
        "kind": kind,
        "region": region,
        "number": f"T{serial:08d}",
        "holder": {"name": "张三", "id_type": "resident_id", "id_number": resident_id(region, serial)},
        "issuer": {"name": "四川省人力资源和社会保障厅", "usci": usci(region), "level": "province"},
        "issued_on": "2022-06-01",
    }
    payload.update(overrides)
    return payload


def title_payload(region: str = "SC", **overrides: Any) -> dict[str, Any]:
    fields = {
        "title_code": "0502",
        "specialty": "机械工程",
        "obtained_on": "2022-03-15",
        "approval_no": "川人社职评〔2022〕12号",
        "review_body": "四川省工程系列高级职称评审委员会",
    }
    return base_payload("title", region, **{**fields, **overrides})


def skill_number(level: int = 3, province: str = "51") -> str:
    return f"S0000{province}000001{22}{level}{next_serial() % 10**6:06d}"


def skill_payload(region: str = "SC", level: int = 3, **overrides: Any) -> dict[str, Any]:
    province = "51" if region == "SC" else "50"
    fields = {
        "number": skill_number(level, province),
        "occupation_code": "6-31-01-03",
        "occupation_name": "机床装调维修工",
        "level": level,
        "work_type": "车工",
    }
    return base_payload("skill", region, **{**fields, **overrides})


def card_payload(region: str = "CQ", **overrides: Any) -> dict[str, Any]:
    system, card_class = ("cq-yingcai", "A1") if region == "CQ" else ("sc-tianfu", "A")
    fields = {
        "card_system": system,
        "card_class": card_class,
        "valid_from": "2024-01-01",
        "valid_until": "2099-12-31",
        "entitlements": [],
    }
    return base_payload("card", region, **{**fields, **overrides})


def permit_number() -> str:
    return f"9{next_serial():017d}"


def permit_payload(region: str = "SC", permit_class: str = "A", **overrides: Any) -> dict[str, Any]:
    """A foreign national's work permit: held by passport (a fresh passport number and permit number)."""
    fields = {
        "number": permit_number(),
        "holder": {"name": "JOHN SMITH", "id_type": "passport", "id_number": f"E{next_serial():08d}"},
        "issuer": {"name": "四川省科学技术厅", "usci": usci(region, 7), "level": "province"},
        "valid_from": "2024-01-01",
        "valid_until": "2099-12-31",
        "permit_class": permit_class,
        "employer_name": "示例科技有限公司",
        "employer_usci": usci(region, 8),
    }
    return base_payload("permit", region, **{**fields, **overrides})
