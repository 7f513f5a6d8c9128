"""Items in CSV: one row per candidate, the rows of one item next to each other.

Columns: `id`, `prompt`, `system`, `text` (required); `reference`, `doc_id`, `seg_id`, `meta`
(a JSON object) optional and the same on every row of an item; and one `judges.<name>`
column per automatic judge (a number, or empty where that judge gave no score), e.g.
`judges.comet`. A prompt that is a JSON list of {"role", "content"} messages is read as chat.

    id,prompt,system,text,judges.comet
    ex-1,Translate: Hallo,sys-a,Hello,0.82
    ex-1,Translate: Hallo,sys-b,Hi there,0.79
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

from exports.formats.base import FormatError, ItemImporter, ItemRecord, csv_records
from exports.formats.items import check_unique_ids, item_from_dict
from exports.formats.registry import register_importer

REQUIRED = ("id", "prompt", "system", "text")
ITEM_FIELDS = ("prompt", "reference", "doc_id", "seg_id", "meta")
OPTIONAL = ("reference", "doc_id", "seg_id", "meta")
JUDGE_PREFIX = "judges."
CANDIDATE_FIELD = re.compile(r"candidates\[(\d+)\]\.(.+)")


def _item(current: dict[str, Any]) -> ItemRecord:
    """Validate as an item; a candidate's error names that candidate's own line and column."""
    try:
        return item_from_dict(current["obj"], current["line"])
    except FormatError as exc:
        match = CANDIDATE_FIELD.fullmatch(exc.field)
        if match:
            raise FormatError(current["lines"][int(match[1])], match[2], exc.message) from None
        raise


def _number(value: str, line: int, field: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise FormatError(line, field, f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise FormatError(line, field, "must be a finite number")
    return number


def _prompt(value: str) -> Any:
    if value.startswith("[") and value.endswith("]"):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        if isinstance(parsed, list) and parsed and all(isinstance(m, dict) for m in parsed):
            return parsed
    return value


def csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line where the row starts, row) for every non-empty row, header checked."""
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [h.strip() for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    for name in REQUIRED:
        if name not in header:
            raise FormatError(1, name, f"missing column; a CSV of items needs: {', '.join(REQUIRED)}")
    known = set(REQUIRED) | set(OPTIONAL)
    for name in header:
        if name not in known and not (name.startswith(JUDGE_PREFIX) and len(name) > len(JUDGE_PREFIX)):
            raise FormatError(1, name, f"unknown column; expected {', '.join(REQUIRED + OPTIONAL)} or judges.<name>")
    if len(set(header)) != len(header):
        raise FormatError(1, "header", "a column name appears twice")
    yield from csv_records(reader, header)


@register_importer
class ItemsCsv(ItemImporter):
    name = "csv"
    label = "Items in CSV, one row per candidate (id, prompt, system, text, judges.<name>)"

    def parse(self, lines: Iterable[str]) -> Iterator[ItemRecord]:
        def grouped() -> Iterator[ItemRecord]:
            current: dict[str, Any] | None = None
            for line, row in csv_rows(lines):
                if current is not None and row["id"] != current["id"]:
                    yield _item(current)
                    current = None
                judges = {}
                for name, value in row.items():
                    if name.startswith(JUDGE_PREFIX) and value.strip():
                        judges[name[len(JUDGE_PREFIX):]] = _number(value.strip(), line, name)
                candidate = {"system": row["system"], "text": row["text"], "judges": judges}
                if current is None:
                    obj: dict[str, Any] = {"id": row["id"], "prompt": _prompt(row["prompt"]), "candidates": [candidate]}
                    for key in OPTIONAL:
                        if row.get(key, "") != "":
                            obj[key] = row[key]
                    if "meta" in obj:
                        try:
                            obj["meta"] = json.loads(obj["meta"])
                        except json.JSONDecodeError as exc:
                            raise FormatError(line, "meta", f"not valid JSON ({exc.msg})") from None
                    current = {"id": row["id"], "line": line, "obj": obj, "first": row, "lines": [line]}
                    continue
                for key in ITEM_FIELDS:
                    if row.get(key, "") != current["first"].get(key, ""):
                        raise FormatError(line, key, f"differs from the item's first row (line {current['line']}); "
                                          "item fields must be the same on every row of an item")
                current["obj"]["candidates"].append(candidate)
                current["lines"].append(line)
            if current is not None:
                yield _item(current)

        return check_unique_ids(grouped())
