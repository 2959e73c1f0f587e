"""Consistency checks over the reference (code-table) JSON files in app/reference/data.

Data tests: they load the JSON with the standard library and check that every code is unique, every
reference points at existing data and the recognition rules are complete and unambiguous. Date windows are
judged by the app's one definition (app.domain.date_windows: half-open, [from, until)), so these checks and
the engine can never disagree about which rule applies on a change date.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.domain.date_windows import check_window, in_window

DATA = Path(__file__).resolve().parents[2] / "app/reference/data"

FILES = [
    "regions.json",
    "title_series.json",
    "title_codes.json",
    "skill_levels.json",
    "card_systems.json",
    "recognition_rules.json",
    "id_types.json",
    "permit_classes.json",
    "areas.json",
    "skill_number_formats.json",
    "catalogue_editions.json",
]
TITLE_LEVELS = {"senior_full", "senior_deputy", "intermediate", "assistant", "junior"}
ISSUER_LEVELS = {"province", "city", "district"}
KINDS = {"title", "skill", "card", "permit"}
MODES = {"direct", "delegated", "mapped", "reciprocal"}
TIERS = {"basic", "exclusive"}
SAME = "same"  # sentinel in rule equivalents: "the credential's own level"
API_ID_TYPES = {"resident_id", "passport", "foreign_permanent_resident", "hmt_permit"}
API_CARD_CLASSES = {"cq-yingcai": {"A1", "A2", "A3", "B"}, "sc-tianfu": {"A", "B"}}


Row = dict[str, Any]


def load(name: str) -> list[Row]:
    rows: list[Row] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return rows


@pytest.fixture(scope="module")
def regions() -> list[Row]:
    return load("regions.json")


@pytest.fixture(scope="module")
def series() -> list[Row]:
    return load("title_series.json")


@pytest.fixture(scope="module")
def titles() -> list[Row]:
    return load("title_codes.json")


@pytest.fixture(scope="module")
def skills() -> list[Row]:
    return load("skill_levels.json")


@pytest.fixture(scope="module")
def cards() -> list[Row]:
    return load("card_systems.json")


@pytest.fixture(scope="module")
def rules() -> list[Row]:
    return load("recognition_rules.json")


@pytest.fixture(scope="module")
def id_types() -> list[Row]:
    return load("id_types.json")


@pytest.fixture(scope="module")
def permit_classes() -> list[Row]:
    return load("permit_classes.json")


@pytest.fixture(scope="module")
def areas() -> list[Row]:
    return load("areas.json")


def codes(rows: list[Row], key: str = "code") -> list[Any]:
    return [row[key] for row in rows]


def assert_unique(values: list[Any], what: str) -> None:
    dupes = sorted({v for v in values if values.count(v) > 1}, key=str)
    assert not dupes, f"duplicate {what}: {dupes}"


def parse_date(value: str) -> dt.date:
    assert isinstance(value, str), value
    return dt.date.fromisoformat(value)


def iter_marked(obj: Any) -> Iterator[Row]:
    """Yields every dict (at any depth) that carries a `confirmed` flag."""
    if isinstance(obj, dict):
        if "confirmed" in obj:
            yield obj
        for value in obj.values():
            yield from iter_marked(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from iter_marked(value)


# ------------------------------------------------------------------------------------------ files


@pytest.mark.parametrize("name", FILES)
def test_file_is_utf8_json_list_without_ascii_escapes(name: str) -> None:
    text = (DATA / name).read_text(encoding="utf-8")
    data = json.loads(text)
    assert isinstance(data, list)
    assert data
    assert "\\u" not in text, "write with ensure_ascii=False"


@pytest.mark.parametrize("name", FILES)
def test_unconfirmed_entries_carry_a_note(name: str) -> None:
    for row in iter_marked(load(name)):
        assert isinstance(row["confirmed"], bool), row
        if not row["confirmed"]:
            assert str(row.get("note", "")).strip(), f"unconfirmed entry without a note: {row}"


def test_readme_mentions_every_file() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for name in FILES:
        assert name in readme, name


# ------------------------------------------------------------------------------------------ regions


def test_regions(regions: list[Row]) -> None:
    assert_unique(codes(regions), "region codes")
    assert_unique(codes(regions, "province_code"), "province codes")
    by_code = {r["code"]: r for r in regions}
    assert by_code["SC"]["province_code"] == "51"
    assert by_code["SC"]["name"] == "四川省"
    assert by_code["CQ"]["province_code"] == "50"
    assert by_code["CQ"]["name"] == "重庆市"
    for region in regions:
        assert len(region["province_code"]) == 2
        assert region["province_code"].isdigit()


# ------------------------------------------------------------------------------------------ titles


def test_series_codes(series: list[Row]) -> None:
    assert_unique(codes(series), "series codes")
    for row in series:
        assert len(row["code"]) == 2, row
        assert row["code"].isdigit(), row
        assert row["name"].strip()
    assert len(series) >= 15


def test_title_codes_unique_and_well_formed(titles: list[Row], series: list[Row]) -> None:
    assert_unique(codes(titles), "title codes")
    series_codes = set(codes(series))
    for row in titles:
        assert len(row["code"]) == 4, row
        assert row["code"].isdigit(), row
        assert row["series"] in series_codes, row
        assert row["level"] in TITLE_LEVELS, row
        assert row["name"].strip(), row
        if not row["code"].startswith(row["series"]):
            # A documented exception must say so explicitly.
            assert row.get("prefix_exception") is True, row
            assert row.get("note"), row


def test_every_series_has_codes(titles: list[Row], series: list[Row]) -> None:
    used = {row["series"] for row in titles}
    missing = [s["code"] for s in series if s["code"] not in used]
    assert not missing, f"series without title codes: {missing}"
    assert len(used) >= 15


def test_no_level_twice_within_a_track(titles: list[Row]) -> None:
    seen: dict[tuple[Any, ...], str] = {}
    for row in titles:
        key = (row["series"], row.get("track"), row["level"])
        assert key not in seen, f"{row['code']} and {seen[key]} share series/track/level"
        seen[key] = row["code"]


def test_series_track_ranges_match_codes(series: list[Row], titles: list[Row]) -> None:
    by_series = defaultdict(set)
    for row in titles:
        by_series[row["series"]].add(row["code"])
    for row in series:
        for track in row.get("tracks", []):
            low, high = track["codes"].split("-")
            inside = {c for c in by_series[row["code"]] if low <= c <= high}
            assert inside, f"track {track} of series {row['code']} has no codes"


@pytest.mark.parametrize(
    ("code", "name", "series_code", "level"),
    [
        ("0101", "教授", "01", "senior_full"),
        ("0102", "副教授", "01", "senior_deputy"),
        ("0103", "讲师", "01", "intermediate"),
        ("0104", "助教", "01", "assistant"),
        ("0501", "正高级工程师", "05", "senior_full"),
        ("0502", "高级工程师", "05", "senior_deputy"),
        ("0503", "工程师", "05", "intermediate"),
        ("0504", "助理工程师", "05", "assistant"),
        ("0505", "技术员", "05", "junior"),
        ("0401", "主任医师", "04", "senior_full"),
        ("0405", "医士", "04", "junior"),
    ],
)
def test_domain_examples(titles: list[Row], code: str, name: str, series_code: str, level: str) -> None:
    row = {t["code"]: t for t in titles}[code]
    assert (row["name"], row["series"], row["level"]) == (name, series_code, level)


def test_health_ranges_complete(titles: list[Row]) -> None:
    have = {t["code"] for t in titles if t["series"] == "04"}
    for base in (0, 10, 20, 30):
        for seq in range(1, 6):
            assert f"04{base + seq:02d}" in have


# ------------------------------------------------------------------------------------------ skills


# The eight-level order (MOHRSS, 2022), lowest first; a level's name ends with its place's name.
EIGHT_LEVEL_ORDER = ["学徒工", "初级工", "中级工", "高级工", "技师", "高级技师", "特级技师", "首席技师"]
SKILL_SCHEMES = {"five-level", "eight-level"}


@pytest.fixture(scope="module")
def number_formats() -> list[Row]:
    return load("skill_number_formats.json")


def test_the_five_level_codes_keep_their_meaning(skills: list[Row]) -> None:
    # Records and national-2020 numbers carry these codes: they must never be renumbered (DOMAIN.md).
    five = {s["level"]: s["name"] for s in skills if s["scheme"] == "five-level"}
    assert five == {1: "一级/高级技师", 2: "二级/技师", 3: "三级/高级工", 4: "四级/中级工", 5: "五级/初级工"}


def test_skill_levels_are_codes_ordered_by_rank(skills: list[Row]) -> None:
    levels = [s["level"] for s in skills]
    assert_unique(levels, "skill level codes")
    for level in levels:
        assert type(level) is int, level
        assert 1 <= level <= 99, level
    ranks = sorted(s["rank"] for s in skills)
    assert ranks == list(range(1, len(skills) + 1)), "ranks are 1..n without gaps or repeats"
    for s in skills:
        assert s["scheme"] in SKILL_SCHEMES, s
        assert isinstance(s["confirmed"], bool), s


def test_skill_levels_follow_the_eight_level_order(skills: list[Row]) -> None:
    by_rank = [s["name"] for s in sorted(skills, key=lambda s: s["rank"])]
    assert len(by_rank) == len(EIGHT_LEVEL_ORDER)
    for name, expected in zip(by_rank, EIGHT_LEVEL_ORDER, strict=True):
        # 技师 must not match 高级技师 and the like: the part after the five-level prefix is the whole name.
        assert name.split("/")[-1] == expected, (name, expected)


def test_number_formats(number_formats: list[Row], skills: list[Row]) -> None:
    assert_unique(codes(number_formats), "number format codes")
    levels = {s["level"] for s in skills}
    for f in number_formats:
        assert len(f["code"]) <= 32, f["code"]  # credentials.number_format
        pattern = re.compile(f["pattern"], re.ASCII)
        example = f["example"]
        assert pattern.fullmatch(example["number"]), f["code"]
        assert len(example["number"]) == f["length"], f["code"]
        assert example["level"] in levels, f["code"]
        position, characters = f["level_position"], f["level_characters"]
        assert (position is None) == (not characters), f["code"]
        if position is not None:
            assert 1 <= position <= f["length"], f["code"]
            assert set(characters.values()) <= levels, f["code"]
            assert characters[example["number"][position - 1]] == example["level"], f["code"]
        fields = (("evaluator_type_position", 1), ("province_position", 2), ("issue_year_position", 2))
        for key, width in fields:
            assert f[key] is None or 1 <= f[key] <= f["length"] - width + 1, (f["code"], key)


def test_every_level_has_a_number_format(number_formats: list[Row], skills: list[Row]) -> None:
    # A format without a level position takes any level; otherwise some format must name the level, or no
    # certificate of it could be registered.
    if any(f["level_position"] is None for f in number_formats):
        return
    named = {level for f in number_formats for level in f["level_characters"].values()}
    assert {s["level"] for s in skills} <= named


def test_formats_of_one_shape_tell_levels_apart(number_formats: list[Row]) -> None:
    # Formats sharing a pattern are told apart by the level character only, so they must not share one.
    by_shape: defaultdict[tuple[str, int | None], set[str]] = defaultdict(set)
    for f in number_formats:
        for character in f["level_characters"]:
            key = (f["pattern"], f["level_position"])
            assert character not in by_shape[key], (f["code"], character)
            by_shape[key].add(character)


# ------------------------------------------------------------------------------------------ cards


def test_card_systems(cards: list[Row], regions: list[Row]) -> None:
    assert_unique(codes(cards), "card system codes")
    region_codes = set(codes(regions))
    for system in cards:
        assert system["region"] in region_codes
        assert system["validity_years"] is None or (
            isinstance(system["validity_years"], int) and system["validity_years"] > 0
        )
        assert system["classes"]
        assert system["services"]
        assert_unique(codes(system["classes"]), f"classes of {system['code']}")
        assert_unique(codes(system["services"]), f"services of {system['code']}")
        for cls in system["classes"]:
            assert cls.get("issuer_level", "city") in ISSUER_LEVELS, cls
        # The issuing window is always stated (null = open on that side) and holds at least one day.
        window = [system["issuing_from"], system["issuing_until"]]
        start, until = (parse_date(day) if day is not None else None for day in window)
        check_window(start, until, "card_system.issuing_window")
        for service in system["services"]:
            assert service["tier"] in TIERS, service
            assert service["code"] == service["code"].lower(), service
            assert service["code"].isascii(), service
            assert " " not in service["code"], service


def test_card_classes_seeded_per_api(cards: list[Row]) -> None:
    by_code = {c["code"]: c for c in cards}
    for system, classes in API_CARD_CLASSES.items():
        assert set(codes(by_code[system]["classes"])) == classes


def test_cq_service_counts(cards: list[Row]) -> None:
    cq = {c["code"]: c for c in cards}["cq-yingcai"]
    tiers = [s["tier"] for s in cq["services"]]
    assert tiers.count("basic") == 10
    assert tiers.count("exclusive") == 7
    assert cq["validity_years"] == 3


# ------------------------------------------------------------------------------------------ id types


def test_id_types(id_types: list[Row]) -> None:
    assert_unique(codes(id_types), "id type codes")
    assert set(codes(id_types)) == API_ID_TYPES
    by_code = {i["code"]: i for i in id_types}
    assert by_code["resident_id"]["holder_type_code"] == "111"
    assert by_code["resident_id"]["name"] == "居民身份证"
    assert [i["code"] for i in id_types if i.get("default")] == ["resident_id"]
    holder_codes = [i["holder_type_code"] for i in id_types if i.get("holder_type_code")]
    assert_unique(holder_codes, "holder type codes")


# ------------------------------------------------------------------------------------------ rules


def test_rule_codes_unique(rules: list[Row]) -> None:
    assert_unique(codes(rules), "rule codes")


def test_rule_fields(rules: list[Row], regions: list[Row]) -> None:
    region_codes = set(codes(regions))
    for rule in rules:
        assert rule["kind"] in KINDS, rule["code"]
        assert rule["mode"] in MODES, rule["code"]
        assert rule["source_region"] in region_codes, rule["code"]
        assert rule["target_region"] in region_codes, rule["code"]
        assert rule["source_region"] != rule["target_region"], rule["code"]
        assert isinstance(rule["priority"], int), rule["code"]
        assert not isinstance(rule["priority"], bool), rule["code"]
        assert rule["basis"].strip(), rule["code"]
        assert isinstance(rule["criteria"], dict), rule["code"]
        assert isinstance(rule["equivalent"], dict), rule["code"]
        assert rule.get("target_area") is None or isinstance(rule["target_area"], str), rule["code"]


def test_rule_dates(rules: list[Row]) -> None:
    for rule in rules:
        start = parse_date(rule["effective_from"])
        if rule["effective_until"] is not None:
            # until is the first day the rule no longer applies: equal to the start, it would never apply.
            assert parse_date(rule["effective_until"]) > start, rule["code"]


def test_title_rules_reference_existing_levels(rules: list[Row]) -> None:
    for rule in (r for r in rules if r["kind"] == "title"):
        crit, eq = rule["criteria"], rule["equivalent"]
        assert crit["title_levels"], rule["code"]
        assert set(crit["title_levels"]) <= TITLE_LEVELS, rule["code"]
        assert crit["issuer_levels"], rule["code"]
        assert set(crit["issuer_levels"]) <= ISSUER_LEVELS, rule["code"]
        assert eq["title_level"] in TITLE_LEVELS | {SAME}, rule["code"]
        assert set(eq.get("recognised_by", [])) <= ISSUER_LEVELS, rule["code"]
        if rule["mode"] == "delegated":
            assert eq.get("recognised_by"), rule["code"]


def test_skill_rules_reference_existing_levels(rules: list[Row], skills: list[Row]) -> None:
    levels = {s["level"] for s in skills}
    for rule in (r for r in rules if r["kind"] == "skill"):
        assert rule["criteria"]["skill_levels"]
        assert set(rule["criteria"]["skill_levels"]) <= levels
        assert rule["equivalent"]["skill_level"] in levels | {SAME}, rule["code"]


def test_card_rules_reference_existing_data(rules: list[Row], cards: list[Row]) -> None:
    systems = {c["code"]: c for c in cards}
    for rule in (r for r in rules if r["kind"] == "card"):
        crit, eq = rule["criteria"], rule["equivalent"]
        source, target = systems[crit["card_system"]], systems[eq["card_system"]]
        assert source["region"] == rule["source_region"], rule["code"]
        assert target["region"] == rule["target_region"], rule["code"]
        assert crit["card_classes"], rule["code"]
        assert set(crit["card_classes"]) <= set(codes(source["classes"])), rule["code"]
        assert eq["card_class"] in set(codes(target["classes"])), rule["code"]
        assert eq["services"], rule["code"]
        assert_unique(eq["services"], f"services of {rule['code']}")
        # Shared services must exist on both sides: the holder has them at home and gets them in the target.
        assert set(eq["services"]) <= set(codes(target["services"])), rule["code"]
        assert set(eq["services"]) <= set(codes(source["services"])), rule["code"]


def test_modes_fit_kinds(rules: list[Row]) -> None:
    allowed = {
        "title": {"direct", "delegated"},
        "skill": {"mapped"},
        "card": {"reciprocal"},
        "permit": {"direct"},
    }
    for rule in rules:
        assert rule["mode"] in allowed[rule["kind"]], rule["code"]


def test_every_mode_covers_both_directions(rules: list[Row], regions: list[Row]) -> None:
    region_codes = sorted(codes(regions))
    pairs = {(a, b) for a in region_codes for b in region_codes if a != b}
    seen = defaultdict(set)
    for rule in rules:
        seen[rule["mode"]].add((rule["source_region"], rule["target_region"]))
    assert set(seen) == MODES
    for mode, directions in seen.items():
        assert directions == pairs, f"{mode} covers only {sorted(directions)}"


def _active(rule: Row, day: dt.date) -> bool:
    end = parse_date(rule["effective_until"]) if rule["effective_until"] else None
    return in_window(day, parse_date(rule["effective_from"]), end)


def _overlap(a: Row, b: Row) -> bool:
    """Whether two half-open windows share a day (one ending on D and one starting on D do not)."""
    a_start, b_start = parse_date(a["effective_from"]), parse_date(b["effective_from"])
    a_end = parse_date(a["effective_until"]) if a["effective_until"] else dt.date.max
    b_end = parse_date(b["effective_until"]) if b["effective_until"] else dt.date.max
    return a_start < b_end and b_start < a_end


def test_no_duplicate_rules_overlapping_in_time(rules: list[Row]) -> None:
    groups = defaultdict(list)
    for rule in rules:
        key = (
            rule["kind"],
            rule["source_region"],
            rule["target_region"],
            rule["priority"],
            rule.get("target_area"),
            json.dumps(rule["criteria"], sort_keys=True, ensure_ascii=False),
        )
        groups[key].append(rule)
    for group in groups.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                assert not _overlap(a, b), f"{a['code']} and {b['code']} overlap"


def criteria_include(**wanted: Any) -> Callable[[Row], bool]:
    """A predicate: the rule's criteria list each wanted value under its key."""
    return lambda rule: all(value in rule["criteria"].get(key, ()) for key, value in wanted.items())


def _matching(rules: list[Row], kind: str, src: str, tgt: str, test: Callable[[Row], bool]) -> list[Row]:
    return [
        r
        for r in rules
        if r["kind"] == kind and r["source_region"] == src and r["target_region"] == tgt and test(r)
    ]


def _check_unambiguous(candidates: list[Row], what: str) -> None:
    """At every rule boundary date, the most specific (lowest priority) active rule must be unique."""
    assert candidates, f"no rule for {what}"
    days = {parse_date(r["effective_from"]) for r in candidates}
    days |= {parse_date(r["effective_until"]) for r in candidates if r["effective_until"]}
    for day in days:
        active = [r for r in candidates if _active(r, day)]
        if not active:
            continue
        best = min(r["priority"] for r in active)
        winners = [r["code"] for r in active if r["priority"] == best]
        assert len(winners) == 1, f"{what} on {day}: ambiguous {winners}"


def test_a_successor_rule_is_unambiguous_on_its_change_date() -> None:
    """The way README.md tells an admin to change a rule: end it on D, start its successor on D. The checks
    below must accept that, and judge D as the successor's first day and the old rule's first day off."""
    base = {"kind": "card", "source_region": "CQ", "target_region": "SC", "priority": 10}
    old = {**base, "code": "old", "effective_from": "2020-04-21", "effective_until": "2026-07-01"}
    new = {**base, "code": "new", "effective_from": "2026-07-01", "effective_until": None}
    _check_unambiguous([old, new], "a rule and its successor")
    assert not _overlap(old, new)
    assert [r["code"] for r in (old, new) if _active(r, dt.date(2026, 7, 1))] == ["new"]
    assert [r["code"] for r in (old, new) if _active(r, dt.date(2026, 6, 30))] == ["old"]


def test_title_rules_cover_every_level_and_issuer_level(rules: list[Row], regions: list[Row]) -> None:
    region_codes = codes(regions)
    for src in region_codes:
        for tgt in (r for r in region_codes if r != src):
            for level in TITLE_LEVELS:
                for issuer in ISSUER_LEVELS:
                    found = _matching(
                        rules,
                        "title",
                        src,
                        tgt,
                        criteria_include(title_levels=level, issuer_levels=issuer),
                    )
                    _check_unambiguous(found, f"title {src}->{tgt} {level}/{issuer}")


def test_senior_provincial_titles_are_direct(rules: list[Row]) -> None:
    for src, tgt in (("SC", "CQ"), ("CQ", "SC")):
        for level in ("senior_full", "senior_deputy"):
            found = _matching(
                rules,
                "title",
                src,
                tgt,
                criteria_include(title_levels=level, issuer_levels="province"),
            )
            best = min(found, key=lambda r: r["priority"])
            assert best["mode"] == "direct", best["code"]


def test_skill_rules_cover_every_level(rules: list[Row], skills: list[Row]) -> None:
    for src, tgt in (("SC", "CQ"), ("CQ", "SC")):
        for level in (s["level"] for s in skills):
            found = _matching(rules, "skill", src, tgt, criteria_include(skill_levels=level))
            _check_unambiguous(found, f"skill {src}->{tgt} level {level}")


def _check_no_gap(candidates: list[Row], what: str) -> None:
    """From the first rule's start on, some rule applies on every day (checked on each boundary date: between
    two boundaries the rules in force do not change)."""
    first = min(parse_date(r["effective_from"]) for r in candidates)
    days = {parse_date(r["effective_from"]) for r in candidates}
    days |= {parse_date(r["effective_until"]) for r in candidates if r["effective_until"]}
    for day in sorted(d for d in days if d >= first):
        assert any(_active(r, day) for r in candidates), f"{what}: no rule on {day}"


def test_card_rules_cover_every_class_in_every_other_region(
    rules: list[Row], cards: list[Row], regions: list[Row]
) -> None:
    """Every class of every card system, verified in each other region (SC→CQ and CQ→SC), has exactly one
    winning rule on every day from its first rule on."""
    for system in cards:
        for target in (r for r in codes(regions) if r != system["region"]):
            for cls in codes(system["classes"]):
                test = criteria_include(card_classes=cls)
                found = [
                    r
                    for r in _matching(rules, "card", system["region"], target, test)
                    if r["criteria"]["card_system"] == system["code"]
                ]
                what = f"card {system['code']}/{cls} in {target}"
                _check_unambiguous(found, what)
                _check_no_gap(found, what)


def _winner(rules: list[Row], src: str, tgt: str, system: str, cls: str, day: dt.date) -> Row:
    found = [
        r
        for r in _matching(rules, "card", src, tgt, criteria_include(card_classes=cls))
        if r["criteria"]["card_system"] == system and _active(r, day)
    ]
    return min(found, key=lambda r: r["priority"])


@pytest.mark.parametrize("cls", ["A", "B"])
def test_tianfu_and_xinchongqing_cards_recognise_each_other(rules: list[Row], cls: str) -> None:
    """Today a 新重庆人才卡 counts in Sichuan as a 天府英才卡, and a 天府英才卡 in Chongqing as the card
    Chongqing issues now, 新重庆人才卡; before 2025 the rule naming 重庆英才服务卡 stays in force."""
    today = dt.date(2026, 12, 7)
    to_sc = _winner(rules, "CQ", "SC", "cq-xinchongqing", cls, today)
    assert (to_sc["equivalent"]["card_system"], to_sc["equivalent"]["card_class"]) == ("sc-tianfu", cls)
    to_cq = _winner(rules, "SC", "CQ", "sc-tianfu", cls, today)
    assert (to_cq["equivalent"]["card_system"], to_cq["equivalent"]["card_class"]) == ("cq-xinchongqing", cls)
    earlier = _winner(rules, "SC", "CQ", "sc-tianfu", cls, dt.date(2024, 12, 31))
    assert earlier["equivalent"]["card_system"] == "cq-yingcai"


# ------------------------------------------------------------------------------------------ permits


def test_permit_classes(permit_classes: list[Row]) -> None:
    assert codes(permit_classes) == ["A", "B", "C"]
    points = {row["code"]: row["min_points"] for row in permit_classes}
    assert points == {"A": 85, "B": 60, "C": None}  # DOMAIN.md


def test_areas_span_existing_regions(areas: list[Row], regions: list[Row]) -> None:
    assert_unique(codes(areas), "area codes")
    for area in areas:
        assert area["parts"], area["code"]
        assert {part["region"] for part in area["parts"]} <= set(codes(regions)), area["code"]


def test_permit_rules_reference_existing_data(
    rules: list[Row], permit_classes: list[Row], areas: list[Row]
) -> None:
    for rule in (r for r in rules if r["kind"] == "permit"):
        assert set(rule["criteria"]) == {"permit_classes"}, rule["code"]
        assert set(rule["criteria"]["permit_classes"]) <= set(codes(permit_classes)), rule["code"]
        assert rule.get("target_area") in {None, *codes(areas)}, rule["code"]
    for rule in rules:
        if rule["kind"] != "permit":
            assert rule.get("target_area") is None, rule["code"]


def _permit_rules(rules: list[Row], src: str, tgt: str, cls: str, area: str | None) -> list[Row]:
    """The rules that apply to a class-`cls` permit of `src` verified in `tgt` for an employer in `area`: a
    rule scoped to an area applies only when the verification names that area."""
    return _matching(
        rules,
        "permit",
        src,
        tgt,
        lambda r: cls in r["criteria"]["permit_classes"] and r.get("target_area") in (None, area),
    )


@pytest.mark.parametrize(("src", "tgt"), [("SC", "CQ"), ("CQ", "SC")])
def test_permit_recognition_per_class_and_area(rules: list[Row], src: str, tgt: str) -> None:
    """A: recognised anywhere in the other region; B: only in the 川渝高竹新区 pilot; C: never."""
    for area in (None, "gaozhu"):
        a_rules = _permit_rules(rules, src, tgt, "A", area)
        _check_unambiguous(a_rules, f"permit A {src}->{tgt} area {area}")
        assert {r["mode"] for r in a_rules} == {"direct"}
        assert all(r["equivalent"]["new_permit_max_years"] == 5 for r in a_rules)
        assert not _permit_rules(rules, src, tgt, "C", area)
    assert not _permit_rules(rules, src, tgt, "B", None)
    _check_unambiguous(_permit_rules(rules, src, tgt, "B", "gaozhu"), f"permit B {src}->{tgt} gaozhu")


# ------------------------------------------------------------------------------------ catalogue editions


def test_catalogue_editions() -> None:
    """The 2023 edition's published counts add up (issue 17, DOMAIN.md); an edition superseded names an
    existing one; no edition counts go unexplained."""
    editions = {e["code"]: e for e in load("catalogue_editions.json")}
    assert_unique(codes(load("catalogue_editions.json")), "catalogue edition code")
    first = editions["2023"]
    assert (first["clusters_published"], first["posts_published"]) == (10, 1458)
    graded = (first["severe_published"], first["moderate_published"], first["mild_published"])
    assert graded == (345, 589, 524)
    assert sum(graded) == first["posts_published"]
    assert editions["2025"]["name"].endswith("人才需求目录")
    assert [code for code, e in editions.items() if e["current"]], "some edition must be current"
    for edition in editions.values():
        assert edition["superseded_by"] in (None, *editions)
        assert str(edition["note"]).strip()
        if edition["published_on"] is not None:
            parse_date(edition["published_on"])
