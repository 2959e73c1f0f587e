"""JSON Lines uploads: one object per line, keys matched like header names but per line."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import IO, Final

from app.imports.columns import COLUMNS, LIST_COLUMNS, LIST_SEPARATOR
from app.imports.raw_rows import (
    ECHOABLE_NAME,
    Cell,
    ImportFileError,
    LineTooLong,
    NotText,
    RawRow,
    RowProblem,
    format_number,
    raise_too_many_rows,
)
from app.imports.tabular import normalize_column_name
from app.imports.text_lines import iter_text_lines

MAX_JSONL_LINE_BYTES: Final = 64 * 1024


class _Pairs(list[tuple[str, object]]):
    """A JSON object kept as its key/value pairs, so that duplicate keys stay visible."""


def iter_jsonl_rows(
    source: IO[bytes], kind: str, codec: str, default_region: str | None, max_rows: int
) -> Iterator[RawRow]:
    """Stream one JSON object per line; blank lines are skipped and not counted."""
    lines = iter_text_lines(source, codec, MAX_JSONL_LINE_BYTES)
    template: dict[str, str | None] = dict.fromkeys(COLUMNS[kind])
    row = 0
    while True:
        try:
            text = next(lines)
        except StopIteration:
            break
        except UnicodeDecodeError:
            raise ImportFileError(
                422, "file.encoding", "The line is not valid UTF-8 (or the declared charset).", row=row + 1
            ) from None
        except LineTooLong:
            raise ImportFileError(
                422, "jsonl.malformed", "The line is longer than 64 KiB.", row=row + 1
            ) from None
        if not text.strip():
            continue
        row += 1
        if row > max_rows:
            raise_too_many_rows(max_rows, row)
        yield parse_json_row(text, row, template, default_region)
    if row == 0:
        raise ImportFileError(422, "file.empty", "The file is empty.")


def parse_json_row(
    text: str, row: int, template: dict[str, str | None], default_region: str | None
) -> RawRow:
    """Turn one JSON line into a RawRow; keys are matched like header names, but per line."""
    pairs = load_json_object(text, row)
    values = template.copy()
    problems: list[RowProblem] = []
    unknown: list[str] = []
    seen: set[str] = set()
    for key, value in pairs:
        name = normalize_column_name(key)
        if name not in values:
            unknown.append(name)
            continue
        if name in seen:
            problems.append(RowProblem(name, "row.duplicate_keys", f"The key {name} appears more than once."))
        seen.add(name)
        converted = convert_json_value(name, value)
        if isinstance(converted, NotText):
            problems.append(RowProblem(name, "cell.not_text", f"The value is {converted.what}, not text."))
        else:
            values[name] = converted
    if unknown:
        problems.append(RowProblem(None, "row.unknown_keys", describe_unknown_keys(unknown)))
    if default_region is not None and values["region"] is None:
        values["region"] = default_region
    return RawRow(row, values, tuple(problems))


def load_json_object(text: str, row: int) -> _Pairs:
    """Parse a line that must hold one JSON object; NaN and Infinity are not JSON and are refused."""
    try:
        parsed: object = json.loads(text, object_pairs_hook=_Pairs, parse_constant=reject_json_constant)
    except (ValueError, RecursionError):
        # The decoder's message quotes no content, but its position is useless to an admin: say it plainly.
        raise ImportFileError(422, "jsonl.malformed", "The line is not valid JSON.", row=row) from None
    if not isinstance(parsed, _Pairs):
        raise ImportFileError(422, "jsonl.malformed", "The line is not a JSON object.", row=row)
    return parsed


def reject_json_constant(name: str) -> object:
    """Refuse NaN, Infinity and -Infinity, which json accepts by default."""
    raise ValueError("not JSON")


def convert_json_value(column: str, value: object) -> Cell:
    """Give a JSON value the text form a CSV cell would have; lists only for list columns."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, _Pairs):
        return NotText("a nested object")
    if isinstance(value, list):
        return join_json_list(value) if column in LIST_COLUMNS else NotText("a list")
    return convert_json_scalar(value)


def convert_json_scalar(value: object) -> Cell:
    """Numbers become their text; true/false is refused rather than guessed at."""
    if isinstance(value, bool):
        return NotText("a true/false value")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    return NotText("an unsupported value")


def join_json_list(items: list[object]) -> Cell:
    """Join a list of scalars with the list separator, as the column is written in CSV."""
    parts: list[str] = []
    for item in items:
        text = item.strip() if isinstance(item, str) else convert_json_scalar(item)
        if isinstance(text, NotText):
            return NotText("a list holding something other than text or numbers")
        if text:
            parts.append(text)
    return LIST_SEPARATOR.join(parts) or None


def describe_unknown_keys(names: Sequence[str]) -> str:
    """List the unknown keys that are safe to echo and count the others."""
    echoable = [name for name in names if ECHOABLE_NAME.fullmatch(name)]
    hidden = len(names) - len(echoable)
    parts = [", ".join(echoable)] if echoable else []
    if hidden:
        parts.append(f"{hidden} other key(s)")
    return f"Unknown keys: {'; '.join(parts)}; see the template for the column names."
