"""Minimum-necessary display of personal data: masked document numbers and names, and name normalisation."""

from __future__ import annotations

import re
import unicodedata

from app.domain.identity import IdType, normalize_document_number

MASK = "*"

# Separators inside minority and foreign names (阿卜杜拉·买买提): middle dot, bullet, katakana middle dot,
# full-width and ASCII full stop, plus look-alikes that Chinese input methods produce (hyphenation point,
# half-width katakana middle dot, dot and bullet operators). They stay in place so a masked name keeps its
# shape.
NAME_SEPARATORS: frozenset[str] = frozenset("\u00b7\u2022\u30fb\uff0e.\u2027\uff65\u22c5\u2219")
CANONICAL_NAME_SEPARATOR = "\u00b7"

# Common two-character (复姓) surnames; for these the whole surname is shown, as in 欧阳**.
COMPOUND_SURNAMES: frozenset[str] = frozenset(
    {
        "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文",
        "司徒", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延", "闻人", "万俟", "申屠",
        "澹台", "公冶", "宗政", "濮阳", "太史", "仲孙", "钟离", "司空", "亓官", "司寇", "淳于", "单于",
        "拓跋", "赫连", "东郭", "左丘", "第五", "梁丘", "公羊", "谷梁", "鲜于", "闾丘", "子车", "乐正",
    }
)  # fmt: skip

_SEPARATOR_TO_CANONICAL = str.maketrans(dict.fromkeys(NAME_SEPARATORS, CANONICAL_NAME_SEPARATOR))
_SPACED_SEPARATOR = re.compile(rf" ?{CANONICAL_NAME_SEPARATOR} ?")


def mask_document_number(id_type: IdType, number: str) -> str:
    """Mask a document number for display.

    Resident IDs keep the address code and the last 4 characters and hide the 8 birth-date digits
    (510104********123X). Everything else keeps 2 characters at each end; numbers shorter than 8 characters
    are masked completely, since showing 4 of them would reveal half the number or more.
    """
    value = normalize_document_number(number)
    if id_type is IdType.RESIDENT_ID and len(value) == 18:
        return value[:6] + MASK * 8 + value[14:]
    if id_type is IdType.RESIDENT_ID and len(value) == 15:
        # A legacy number not yet upgraded: its birth date is the 6 digits after the address code.
        return value[:6] + MASK * 6 + value[12:]
    if len(value) < 8:
        return MASK * len(value)
    return value[:2] + MASK * (len(value) - 4) + value[-2:]


def mask_name(name: str) -> str:
    """Show the surname's first character (both of a compound surname), mask the rest, one * per character.

    "Character" means a user-perceived one: a base code point with its combining marks and variation
    selectors, so that 𠮷, é written as e + U+0301, or 葛 + U+E0100 each give exactly one star and no
    stray mark leaks. Name separators and spaces stay where they are.
    """
    clusters = split_clusters(name)
    if not clusters:
        return ""
    if len(clusters) == 1:
        return MASK
    # Compare base characters only: 诸葛 written with a variation selector is still 诸葛.
    keep = 2 if len(clusters) >= 3 and clusters[0][0] + clusters[1][0] in COMPOUND_SURNAMES else 1
    masked = [_mask_cluster(cluster) for cluster in clusters[keep:]]
    return "".join(clusters[:keep] + masked)


def normalize_person_name(raw: str) -> str:
    """Return the form of a name used for matching: NFKC, trimmed, single spaces, every dot variant as "·"."""
    text = unicodedata.normalize("NFKC", _join_surrogate_pairs(raw))
    text = " ".join(text.translate(_SEPARATOR_TO_CANONICAL).split())
    # "阿卜杜拉 · 买买提" and "阿卜杜拉·买买提" are the same name.
    return _SPACED_SEPARATOR.sub(CANONICAL_NAME_SEPARATOR, text)


def split_clusters(text: str) -> list[str]:
    """Split text into base characters, each followed by its combining marks and variation selectors."""
    clusters: list[str] = []
    for char in _join_surrogate_pairs(text):
        if clusters and _is_attached(char):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _is_attached(char: str) -> bool:
    # unicodedata.combining() alone misses marks with combining class 0 (many Mn/Mc marks), hence the category
    # test; variation selectors (U+FE00-FE0F, U+E0100-E01EF, used for variant ideographs in names) are Mn too,
    # but are listed explicitly because that is the case that matters for Chinese names.
    code = ord(char)
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return True
    return unicodedata.combining(char) != 0 or unicodedata.category(char) in ("Mn", "Mc", "Me")


def _mask_cluster(cluster: str) -> str:
    base = cluster[0]
    # A separator or space is shown bare: marks attached to it would be input characters leaking through.
    if base in NAME_SEPARATORS or base.isspace():
        return base
    return MASK


_SURROGATE = re.compile("[\ud800-\udfff]")


def _join_surrogate_pairs(text: str) -> str:
    # A str may hold a UTF-16 surrogate pair as two code points (e.g. text that went through a UTF-16 API);
    # joining them makes 𠮷 one character whichever way it arrived. Lone surrogates are kept as they are.
    if not _SURROGATE.search(text):  # the common case, checked in C: names are matched on every import row
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
