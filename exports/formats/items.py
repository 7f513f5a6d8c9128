"""Item importers: JSONL (one item a line, DESIGN.md) and the validation they share."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from exports.formats.base import CandidateRecord, FormatError, ItemImporter, ItemRecord
from exports.formats.registry import register_importer

ITEM_KEYS = {"id", "prompt", "candidates", "reference", "doc_id", "seg_id", "meta"}
CANDIDATE_KEYS = {"system", "text", "judges"}
ROLES = {"system", "user", "assistant", "tool"}
MAX_TEXT = 200_000


def _text(value: Any, line: int, field: str, *, allow_number: bool = False) -> str:
    if allow_number and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise FormatError(line, field, "must be text")
    if len(value) > MAX_TEXT:
        raise FormatError(line, field, f"longer than {MAX_TEXT} characters")
    if "\x00" in value:
        raise FormatError(line, field, "contains a NUL character (\\u0000), which text may not hold")
    return value


def _prompt(value: Any, line: int) -> Any:
    if isinstance(value, str):
        return _text(value, line, "prompt")
    if isinstance(value, list) and value:
        messages = []
        for i, message in enumerate(value):
            where = f"prompt[{i}]"
            if not isinstance(message, Mapping) or set(message) != {"role", "content"}:
                raise FormatError(line, where, 'each message must be {"role": ..., "content": ...}')
            if message["role"] not in ROLES:
                raise FormatError(line, f"{where}.role", f"must be one of: {', '.join(sorted(ROLES))}")
            messages.append({"role": message["role"], "content": _text(message["content"], line, f"{where}.content")})
        return messages
    raise FormatError(line, "prompt", "must be text or a non-empty list of chat messages")


def item_from_dict(obj: Any, line: int) -> ItemRecord:
    """Validate one item object; raise FormatError naming the line and field."""
    if not isinstance(obj, Mapping):
        raise FormatError(line, "item", "must be a JSON object")
    unknown = sorted(set(obj) - ITEM_KEYS)
    if unknown:
        raise FormatError(line, unknown[0], f"unknown field; expected: {', '.join(sorted(ITEM_KEYS))}")
    for key in ("id", "prompt", "candidates"):
        if key not in obj:
            raise FormatError(line, key, "this field is required")
    item_id = _text(obj["id"], line, "id", allow_number=True).strip()
    if not item_id or len(item_id) > 200:
        raise FormatError(line, "id", "must be 1-200 characters")
    candidates_raw = obj["candidates"]
    if not isinstance(candidates_raw, list) or not candidates_raw:
        raise FormatError(line, "candidates", "must be a non-empty list")
    candidates, systems = [], set()
    for i, cand in enumerate(candidates_raw):
        where = f"candidates[{i}]"
        if not isinstance(cand, Mapping):
            raise FormatError(line, where, "must be an object")
        unknown = sorted(set(cand) - CANDIDATE_KEYS)
        if unknown:
            raise FormatError(line, f"{where}.{unknown[0]}", "unknown field; expected: judges, system, text")
        for key in ("system", "text"):
            if key not in cand:
                raise FormatError(line, f"{where}.{key}", "this field is required")
        system = _text(cand["system"], line, f"{where}.system").strip()
        if not system or len(system) > 200:
            raise FormatError(line, f"{where}.system", "must be 1-200 characters")
        if system in systems:
            raise FormatError(line, f"{where}.system", f"system {system!r} appears twice in this item")
        systems.add(system)
        judges = cand.get("judges", {})
        if not isinstance(judges, Mapping):
            raise FormatError(line, f"{where}.judges", "must be an object of judge name -> number")
        for judge, score in judges.items():
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
                raise FormatError(line, f"{where}.judges.{judge}", "must be a finite number")
        candidates.append(CandidateRecord(system, _text(cand["text"], line, f"{where}.text"), dict(judges)))
    meta = obj.get("meta", {})
    if not isinstance(meta, Mapping):
        raise FormatError(line, "meta", "must be an object")
    return ItemRecord(
        id=item_id,
        prompt=_prompt(obj["prompt"], line),
        candidates=tuple(candidates),
        reference=_text(obj.get("reference", ""), line, "reference"),
        doc_id=_text(obj.get("doc_id", ""), line, "doc_id", allow_number=True),
        seg_id=_text(obj.get("seg_id", ""), line, "seg_id", allow_number=True),
        meta=dict(meta),
        line=line,
    )


def check_unique_ids(items: Iterable[ItemRecord]) -> Iterator[ItemRecord]:
    seen: dict[str, int] = {}
    for item in items:
        if item.id in seen:
            raise FormatError(item.line, "id", f"item id {item.id!r} already used on line {seen[item.id]}")
        seen[item.id] = item.line
        yield item


@register_importer
class ItemsJsonl(ItemImporter):
    name = "jsonl"
    label = "Items, one JSON object a line"

    def parse(self, lines: Iterable[str]) -> Iterator[ItemRecord]:
        def parsed() -> Iterator[ItemRecord]:
            for number, raw in enumerate(lines, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise FormatError(number, "json", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
                yield item_from_dict(obj, number)

        return check_unique_ids(parsed())
