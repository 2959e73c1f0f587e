"""Masking of document numbers and names, and name normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.identity import IdType
from app.domain.masking import (
    COMPOUND_SURNAMES,
    NAME_SEPARATORS,
    mask_document_number,
    mask_name,
    normalize_person_name,
    split_clusters,
)

# The separators the brief names, spelled as escapes so none is confused with another.
DOTS = ["\u00b7", "\u2022", "\u30fb", "\uff0e", "."]


# --- document numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("id_type", "number", "masked"),
    [
        (IdType.RESIDENT_ID, "51010419900101123X", "510104********123X"),
        (IdType.RESIDENT_ID, "51010419900101123x", "510104********123X"),
        (IdType.RESIDENT_ID, "513101820113001", "513101******001"),
        (IdType.PASSPORT, "E12345678", "E1*****78"),
        (IdType.PASSPORT, "12345678", "12****78"),
        (IdType.PASSPORT, "1234567", "*******"),
        (IdType.PASSPORT, "AB123", "*****"),
        (IdType.PASSPORT, "", ""),
        (IdType.HMT_PERMIT, "H1234567801", "H1*******01"),
        (IdType.HMT_PERMIT, "810000199001010012", "81**************12"),
        (IdType.FOREIGN_PERMANENT_RESIDENT, "USA310190010100", "US***********00"),
    ],
)
def test_mask_document_number(id_type: IdType, number: str, masked: str) -> None:
    assert mask_document_number(id_type, number) == masked


def test_resident_id_mask_hides_exactly_the_birth_date() -> None:
    masked = mask_document_number(IdType.RESIDENT_ID, "51010419900101123X")
    assert len(masked) == 18
    assert masked.count("*") == 8
    assert "19900101" not in masked


@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=40))
def test_generic_mask_keeps_two_at_each_end(number: str) -> None:
    masked = mask_document_number(IdType.PASSPORT, number)
    assert len(masked) == len(number)
    assert masked[:2] == number[:2]
    assert masked[-2:] == number[-2:]
    assert set(masked[2:-2]) == {"*"}
    assert masked.count("*") >= 4


# --- names -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("", ""),
        ("李", "*"),
        ("张三", "张*"),
        ("王小明", "王**"),
        ("欧阳娜娜", "欧阳**"),
        ("欧阳娜", "欧阳*"),
        ("欧阳", "欧*"),  # a two-character name keeps one character even with a compound surname
        ("司马相如", "司马**"),
        ("诸葛亮", "诸葛*"),
        ("阿卜杜拉·买买提", "阿***·***"),
        ("John Smith", "J*** *****"),
        ("𠮷", "*"),
        ("𠮷田", "𠮷*"),
        ("田𠮷", "田*"),
        ("王𠮷𠮷", "王**"),
        ("\ud842\udfb7田", "𠮷*"),  # the same 𠮷 as a UTF-16 surrogate pair in two code points
        ("田\ud842\udfb7", "田*"),
        ("Zoe\u0308", "Z**"),  # ë as e + combining diaeresis: one star, no stray mark
        ("e\u0301mile", "e\u0301****"),  # the kept character keeps its mark
        ("葛\U000e0100亮", "葛\U000e0100*"),  # ideographic variation selector stays with its base
        ("李葛\U000e0100", "李*"),
        ("诸葛\U000e0100亮", "诸葛\U000e0100*"),
        ("李\ufe00四", "李\ufe00*"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize("dot", DOTS)
def test_every_dot_variant_kept_in_place(dot: str) -> None:
    assert mask_name(f"阿卜杜拉{dot}买买提") == f"阿***{dot}***"
    assert mask_name(f"玛丽{dot}安{dot}史密斯") == f"玛*{dot}*{dot}***"


def test_brief_dots_are_separators() -> None:
    assert set(DOTS) <= NAME_SEPARATORS


def test_mark_on_a_separator_does_not_leak() -> None:
    assert mask_name("阿卜·\u0301买") == "阿*·*"


@pytest.mark.parametrize(
    "name",
    [
        "张三",
        "欧阳娜娜",
        "阿卜杜拉·买买提",
        "𠮷田太郎",
        "Zoe\u0308 Smith",
        "葛\U000e0100亮",
        "e\u0301\u0302x",
    ],
)
def test_cluster_length_preserved(name: str) -> None:
    assert len(split_clusters(mask_name(name))) == len(split_clusters(name))


def test_split_clusters() -> None:
    assert split_clusters("e\u0301\u0302x") == ["e\u0301\u0302", "x"]
    assert split_clusters("𠮷\ufe01a") == ["𠮷\ufe01", "a"]
    assert split_clusters("\u0301a") == ["\u0301", "a"]  # a leading mark has nothing to attach to
    assert split_clusters("") == []


NAME_CHARS = st.one_of(
    st.sampled_from(["张", "欧", "阳", "诸", "葛", "𠮷", "\U00020000", "a", "*", " ", *DOTS]),
    st.sampled_from(["\u0301", "\u0308", "\ufe0f", "\U000e0100", "\u0e31"]),
    st.characters(codec="utf-8"),
)


@given(st.text(NAME_CHARS, max_size=12))
def test_masked_name_reveals_only_prefix_and_separators(name: str) -> None:
    masked = mask_name(name)
    clusters = split_clusters(name)
    assert len(split_clusters(masked)) == len(clusters)
    if len(clusters) <= 1:
        assert masked == "*" * len(clusters)
        return
    compound = len(clusters) >= 3 and clusters[0][0] + clusters[1][0] in COMPOUND_SURNAMES
    kept = "".join(clusters[: 2 if compound else 1])
    assert masked.startswith(kept)
    for char in masked[len(kept) :]:
        assert char == "*" or char in NAME_SEPARATORS or char.isspace()


@given(st.text(st.characters(codec="utf-8"), min_size=2, max_size=12))
def test_masked_name_leaks_no_other_input_character(name: str) -> None:
    clusters = split_clusters(name)
    compound = len(clusters) >= 3 and clusters[0][0] + clusters[1][0] in COMPOUND_SURNAMES
    shown = 2 if compound else 1
    masked_rest = mask_name(name)[len("".join(clusters[:shown])) :] if len(clusters) > 1 else mask_name(name)
    hidden = {
        char for char in "".join(clusters[shown:]) if char not in NAME_SEPARATORS and not char.isspace()
    }
    assert not (set(masked_rest) & (hidden - {"*"}))


# --- name normalisation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  张三 ", "张三"),
        ("张\u3000 三", "张 三"),
        ("John   \t Smith", "John Smith"),
        ("ＪＯＨＮ", "JOHN"),
        ("阿卜杜拉 · 买买提", "阿卜杜拉·买买提"),
        ("\ud842\udfb7田", "𠮷田"),
        *(
            (f"阿卜杜拉{dot}买买提", "阿卜杜拉·买买提")
            for dot in [*DOTS, "\u2027", "\uff65", "\u22c5", "\u2219"]
        ),
    ],
)
def test_normalize_person_name(raw: str, expected: str) -> None:
    assert normalize_person_name(raw) == expected


def test_normalised_variants_match() -> None:
    variants = [
        "阿卜杜拉·买买提",
        "阿卜杜拉•买买提",
        "阿卜杜拉・买买提",
        " 阿卜杜拉．买买提",
        "阿卜杜拉 . 买买提",
    ]
    assert {normalize_person_name(v) for v in variants} == {"阿卜杜拉·买买提"}
