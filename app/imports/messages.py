"""Chinese messages for the stable codes of import errors, for the console and the error list.

The code is the contract and the English message the fallback: a code not listed here (a new rule, a pydantic
type this table does not know yet) is shown with its English message only, never hidden.
"""

from __future__ import annotations

MESSAGES_ZH = {
    # Cells and rows of the file
    "cell.not_text": "单元格不是文本（请将该列设置为文本格式）",
    "row.too_many_cells": "该行的单元格多于表头列数",
    "row.unknown_keys": "该行含有未知字段",
    "row.duplicate_keys": "该行的字段重复",
    "number.duplicate_in_file": "证书编号在文件中重复出现",
    "holder.name_conflict_in_file": "同一证件号码在文件中对应不同姓名",
    "holder.name_mismatch": "该证件号码已登记为其他姓名",
    # The registry's rules (app/domain, app/registry/schemas.py)
    "id_number.format": "证件号码格式不正确",
    "id_number.checksum": "身份证号码校验位错误",
    "id_number.birth_date": "身份证号码中的出生日期无效",
    "usci.format": "统一社会信用代码格式不正确",
    "usci.checksum": "统一社会信用代码校验位错误",
    "title_code.format": "职称代码格式不正确",
    "title_code.unknown": "职称代码不在代码表中",
    "skill_level.range": "技能等级代码须为 1 至 99 的整数",
    "skill_level.unknown": "技能等级不在代码表中",
    "skill_number.format": "职业技能等级证书编号格式不正确",
    "skill_number.region": "证书编号中的地区与所填地区不一致",
    "skill_number.level_mismatch": "证书编号中的等级与所填技能等级不一致",
    "skill_number.issue_year": "证书编号中的发证年份早于该编号格式启用的年份",
    "region.unknown": "地区代码不存在",
    "region.not_held": "本节点不负责该地区的登记",
    "card_system.unknown": "人才卡体系不存在",
    "card_system.region": "该人才卡体系属于其他地区",
    "card_system.not_issuing": "发卡日期不在该人才卡体系的发卡期内（已停发或尚未开始发放新卡）",
    "card_class.unknown": "人才卡类别不属于该体系",
    "entitlement.unknown": "服务事项不属于该人才卡体系",
    "entitlement.duplicate": "服务事项重复",
    "permit.number_format": "工作许可证号应为 18 位数字",
    "permit.holder_id_type": "工作许可持有人的证件类型应为护照或外国人永久居留身份证",
    "permit_class.unknown": "工作许可类别不在代码表中",
    "permit.number_other_holder": "该工作许可证号已登记给其他持有人（一人一号，终身不变）",
    "permit.holder_other_number": "该持有人已有其他工作许可证号（一人一号，终身不变）",
    "permit.number_conflict_in_file": "同一工作许可证号在文件中对应不同持有人，或同一持有人对应不同证号",
    "text.control_characters": "含有控制字符或不可见字符",
    "text.empty": "去除空格后内容为空",
    "date.future": "日期晚于今天",
    "date.order": "取得资格日期晚于发证日期",
    "validity.window": "有效期截止日早于有效期开始日",
    # The import as a whole (app/imports/disk_space.py)
    "import.disk_full": "服务器导入目录空间不足，本次导入未保存任何数据；请稍后重试或拆分文件",
    # The shortage catalogue's rows (app/catalogue/entries.py)
    "catalogue.edition_unknown": "人才目录版本不存在",
    "catalogue.asks_for_missing": "须填写职称系列或职业编码",
    "catalogue.duplicate_in_file": "同一版本、产业集群、地区的岗位在文件中重复出现",
    "title_series.unknown": "职称系列不在代码表中",
    "occupation_code.format": "职业编码格式不正确（应如 6-31-01-03）",
    # Pydantic's types, as the registry's models raise them
    "missing": "必填项为空",
    "string_too_long": "内容过长",
    "string_too_short": "内容过短",
    "string_pattern_mismatch": "格式不正确",
    "date_from_datetime_parsing": "日期格式不正确（应为 2026-12-07）",
    "date_parsing": "日期格式不正确（应为 2026-12-07）",
    "date_type": "日期格式不正确（应为 2026-12-07）",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "literal_error": "不是允许的取值",
    "enum": "不是允许的取值",
    "extra_forbidden": "不允许的字段",
    "too_long": "项目过多",
    "union_tag_invalid": "证书类别不正确",
    "value_error": "取值无效",
}


def describe_zh(code: str) -> str | None:
    return MESSAGES_ZH.get(code)
