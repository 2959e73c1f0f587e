"""The CSV template of each kind, and the escaping of the error report's cells."""

from __future__ import annotations

import csv
import io
from typing import Final

from app.domain.identity import compute_resident_id_check
from app.domain.uscc import compute_uscc_check
from app.imports.columns import COLUMNS, LIST_SEPARATOR


def render_template(kind: str) -> str:
    """Return the CSV template of a kind: the header and one example row of valid, fictitious data.

    It starts with a BOM because Excel opens BOM-less UTF-8 CSV as the ANSI code page and garbles the
    Chinese; every reader of this module strips it.
    """
    columns = COLUMNS[kind]
    example = build_example_row(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerow([example.get(column, "") for column in columns])
    return "\ufeff" + buffer.getvalue()


def build_example_row(kind: str) -> dict[str, str]:
    """Fictitious values that pass every domain check; check characters are computed, never typed."""
    if kind == "catalogue":
        # A made-up post, marked as such: huren ships none of the catalogue's real entries.
        return {
            "edition": "2023",
            "cluster": "示例产业集群",
            "post": "示例岗位（非目录原文）",
            "title_series": "05",
            "occupation_code": "",
            "urgency": "重度",
            "region": "SC",
        }
    # 510104 = 成都市锦江区, born 1985-03-12, sequence 123 (odd: male).
    resident_id = "51010419850312123"
    resident_id += compute_resident_id_check(resident_id)
    common = {
        "region": "SC",
        "holder_name": "张三",
        "holder_id_type": "resident_id",
        "holder_id_number": resident_id,
        "issuer_level": "province",
    }
    if kind == "title":
        usci = "11510000MB0A12345"  # 11 = organ of government, 510000 = Sichuan
        return common | {
            "number": "SCZC2024000123",
            "issuer_name": "示例省人力资源和社会保障厅",
            "issuer_usci": usci + compute_uscc_check(usci),
            "issued_on": "2024-06-30",
            "valid_from": "2024-06-30",
            "title_code": "0502",
            "specialty": "电气工程",
            "obtained_on": "2024-05-20",
            "approval_no": "示人社职〔2024〕12号",
            "review_body": "示例工程技术系列高级职称评审委员会",
        }
    if kind == "skill":
        usci = "52510100MJ0A12345"  # 52 = social organisation, 510100 = Chengdu
        # S + evaluator 0000 + province 51 + site 000123 + year 24 + level 3 + serial 000456.
        return common | {
            "number": "S00005100012324" + "3" + "000456",
            "issuer_name": "示例职业技能等级认定中心",
            "issuer_usci": usci + compute_uscc_check(usci),
            "issuer_level": "city",
            "issued_on": "2024-09-15",
            "occupation_code": "6-31-01-03",
            "occupation_name": "机床装调维修工",
            "level": "3",
            "work_type": "数控机床装调维修工",
        }
    if kind == "card":
        usci = "11510000MB0A12345"
        return common | {
            "number": "TF2024000001",
            "issuer_name": "示例省人才工作领导小组办公室",
            "issuer_usci": usci + compute_uscc_check(usci),
            "issued_on": "2024-07-01",
            "valid_from": "2024-07-01",
            "valid_until": "2027-06-30",
            "card_system": "sc-tianfu",
            "card_class": "A",
            "entitlements": LIST_SEPARATOR.join(("hukou", "housing", "healthcare")),
        }
    if kind == "permit":
        usci = "12510000MB0A12345"  # 12 = public institution, 510000 = Sichuan
        employer = "91510100MA0A12345"  # 91 = enterprise, 510100 = Chengdu
        return common | {
            # A foreign national: identified by passport, never by a resident ID.
            "holder_name": "JOHN SMITH",
            "holder_id_type": "passport",
            "holder_id_number": "E12345678",
            "number": "123456789012345678",
            "issuer_name": "示例省科学技术厅",
            "issuer_usci": usci + compute_uscc_check(usci),
            "issued_on": "2024-03-01",
            "valid_from": "2024-03-01",
            "valid_until": "2026-02-28",
            "permit_class": "A",
            "employer_name": "示例科技有限公司",
            "employer_usci": employer + compute_uscc_check(employer),
        }
    raise ValueError(f"unknown kind {kind!r}")


_FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")


def escape_csv_cell(value: str) -> str:
    """Defuse a cell of the error-report CSV so that spreadsheets show it instead of running it (OWASP)."""
    return "'" + value if value.startswith(_FORMULA_TRIGGERS) else value
