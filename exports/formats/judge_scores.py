"""Judge scores to attach to existing candidates: one score a row, `item_id, system, judge,
score`, as CSV (with that header) or JSONL (one object a line). A row with an empty `item_id`
(or none, in JSONL) is a system-level score: the judge's score of the whole system (a corpus
BLEU, a leaderboard score). Pure: the service looks the candidates and systems up and stores
the scores all-or-nothing."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from exports.formats.base import FormatError, csv_records, jsonl_objects

FIELDS = ("item_id", "system", "judge", "score")
SCORE_FORMATS = ("csv", "jsonl")


@dataclass(frozen=True)
class JudgeScore:
    item_id: str  # "" for a system-level score
    system: str
    judge: str
    score: float
    line: int


def _name(value: Any, line: int, field: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and field == "item_id":
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 200:
        raise FormatError(line, field, "must be text of 1-200 characters")
    if "\x00" in value:
        raise FormatError(line, field, "contains a NUL character (\\u0000), which text may not hold")
    return value.strip()


def _score(value: Any, line: int) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise FormatError(line, "score", f"{value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FormatError(line, "score", "must be a finite number")
    return float(value)


def _record(obj: dict[str, Any], line: int) -> JudgeScore:
    for key in FIELDS:
        if key != "item_id" and (key not in obj or obj[key] in (None, "")):
            raise FormatError(line, key, "this field is required")
    system_level = obj.get("item_id") in (None, "")
    return JudgeScore("" if system_level else _name(obj["item_id"], line, "item_id"), _name(obj["system"], line, "system"),
                      _name(obj["judge"], line, "judge"), _score(obj["score"], line), line)


def parse_judge_scores(lines: Iterable[str], file_format: str) -> Iterator[JudgeScore]:
    """Yield scores; raise FormatError naming the line and field of the first bad row, or of a
    score given twice."""
    if file_format not in SCORE_FORMATS:
        raise FormatError(None, "format", f"must be one of: {', '.join(SCORE_FORMATS)}")
    seen: dict[tuple[str, str, str], int] = {}
    for record in (_csv if file_format == "csv" else _jsonl)(lines):
        key = (record.item_id, record.system, record.judge)
        if key in seen and not record.item_id:
            raise FormatError(record.line, "judge", f"{record.judge!r} already scored system {record.system!r} on line {seen[key]}")
        if key in seen:
            raise FormatError(record.line, "judge", f"{record.judge!r} already scored {record.system!r} of item "
                              f"{record.item_id!r} on line {seen[key]}")
        seen[key] = record.line
        yield record


def _jsonl(lines: Iterable[str]) -> Iterator[JudgeScore]:
    for number, obj in jsonl_objects(lines):
        unknown = sorted(set(obj) - set(FIELDS))
        if unknown:
            raise FormatError(number, unknown[0], f"unknown field; expected: {', '.join(FIELDS)}")
        yield _record(obj, number)


def _csv(lines: Iterable[str]) -> Iterator[JudgeScore]:
    reader = csv.reader(lines)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        return
    for name in FIELDS:
        if name not in header:
            raise FormatError(1, name, f"missing column; the header must name: {', '.join(FIELDS)}")
    unknown = sorted(set(header) - set(FIELDS))
    if unknown:
        raise FormatError(1, unknown[0], f"unknown column; expected: {', '.join(FIELDS)}")
    for line, row in csv_records(reader, header):
        yield _record(row, line)
