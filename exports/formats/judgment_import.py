"""Human judgments made elsewhere, for items already in the study (matched by item id and
system): pairwise labels, the `pairwise-judgments` export read back, and `scores-long` score
tables (Likert ratings, rubric criteria). Pure: the importers yield JudgmentRecords naming
systems; the service finds the units, validates each judgment with the study's task type and
stores them all-or-nothing as annotations of pseudonymous raters.

- `pairwise-labels`: CSV (with a header) or JSONL, one judgment a row:
  `item_id, system_a, system_b, winner, rater` (+ optional `strength`, `aspect`, `first_shown`). `winner` is
  `a`, `b`, `tie`, `both_bad`, or the winning system's name. Rows with an `aspect` give that
  aspect's choice of the judgment on the row before them (same item, pair and rater).
- `pairwise-judgments`: the JSONL that export writes (`item_id, system_a, system_b, outcome,
  strength, aspect, annotator`, other columns ignored); rows of one judgment (its overall
  choice and aspects) share an `annotation_id`.
- `scores-long`: the CSV that export writes (`item_id, system, annotator, aspect, score`, other
  columns ignored): one rater's scores of one item's candidates make their judgments. The rows
  of one item must be next to each other (as the export writes them).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from exports.formats.base import FormatError, csv_records, jsonl_objects
from exports.formats.registry import register_judgment_importer

MAX_NAME = 200
OUTCOMES = ("a", "b", "tie", "both_bad")


@dataclass(frozen=True)
class JudgmentRecord:
    """One rater's judgment of candidates of an item, named by system.

    ``answer`` is, for a pair, the task type's gold form ({"choice": system | "tie" |
    "both_bad", optional "strength", "aspects"}); for scores, {"scores": {system: {aspect:
    score}}}, which may cover several units of the item (the service splits it)."""

    item_id: str
    systems: tuple[str, ...]
    rater: str
    answer: Mapping[str, Any]
    line: int
    lines: Mapping[str, int] = field(default_factory=dict)  # system -> its first line (scores)
    first_shown: str = ""  # the system shown first (left), when the file says


def _text(value: Any, line: int, name: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_NAME:
        raise FormatError(line, name, f"must be text of 1-{MAX_NAME} characters")
    if "\x00" in value:
        raise FormatError(line, name, "contains a NUL character (\\u0000), which text may not hold")
    return value.strip()


def _number(value: Any, line: int, name: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise FormatError(line, name, f"{value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FormatError(line, name, "must be a finite number")
    return float(value)


def read_rows(lines: Iterable[str], file_format: str, required: tuple[str, ...], known: tuple[str, ...] | None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) of a CSV file with a header or of JSONL; ``file_format`` "auto" decides by
    the first non-blank line (``{`` starts JSONL). Unknown columns are refused when ``known``
    is given, ignored otherwise; a missing required column is named."""
    lines = iter(lines)
    first: list[str] = []
    for raw in lines:
        first.append(raw)
        if raw.strip():
            break
    if not first or not first[-1].strip():
        return
    if file_format == "auto":
        file_format = "jsonl" if first[-1].lstrip("\ufeff").lstrip().startswith("{") else "csv"
    allowed = set(known) if known is not None else None

    def check(keys, line):
        for name in required:
            if name not in keys:
                raise FormatError(line, name, f"missing {'column' if file_format == 'csv' else 'field'}; required: {', '.join(required)}")
        if allowed is not None:
            unknown = sorted(set(keys) - allowed)
            if unknown:
                raise FormatError(line, unknown[0], f"unknown {'column' if file_format == 'csv' else 'field'}; expected: {', '.join(known)}")

    def chained():
        yield from first
        yield from lines

    if file_format == "jsonl":
        for number, obj in jsonl_objects(chained()):
            check(obj, number)
            yield number, obj
        return
    if file_format != "csv":
        raise FormatError(None, "options.file_format", 'must be "auto", "csv" or "jsonl"')
    reader = csv.reader(chained())
    header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    header_line = reader.line_num
    check(header, header_line)
    yield from csv_records(reader, header)


class JudgmentImporter:
    """Judgments of items already in the study (registered apart from item formats)."""

    name: str = ""
    label: str = ""
    task_types: tuple[str, ...] = ()

    def __init__(self, file_format: str = "auto"):
        if file_format not in ("auto", "csv", "jsonl"):
            raise ValueError('file_format must be "auto", "csv" or "jsonl"')
        self.file_format = file_format

    def parse_judgments(self, lines: Iterable[str]) -> Iterator[JudgmentRecord]:
        raise NotImplementedError


# --- pairwise --------------------------------------------------------------------------------


@dataclass
class _Pair:
    key: tuple
    item_id: str
    systems: tuple[str, str]
    rater: str
    line: int
    choice: Any = None
    strength: int | None = None
    first_shown: str = ""
    aspects: dict[str, Any] = field(default_factory=dict)

    def record(self) -> JudgmentRecord:
        if self.choice is None:
            raise FormatError(self.line, "aspect", "an aspect's choice needs the judgment's overall choice (a row without aspect) first")
        answer: dict[str, Any] = {"choice": self.choice}
        if self.strength is not None:
            answer["strength"] = self.strength
        if self.aspects:
            answer["aspects"] = dict(self.aspects)
        return JudgmentRecord(self.item_id, self.systems, self.rater, answer, self.line, first_shown=self.first_shown)


def _choice(outcome: str, systems: tuple[str, str], line: int, name: str) -> str:
    if outcome in ("tie", "both_bad"):
        return outcome
    if outcome == "a":
        return systems[0]
    if outcome == "b":
        return systems[1]
    if outcome in systems:
        return outcome
    raise FormatError(line, name, f"{outcome!r} is neither a, b, tie, both_bad nor one of the pair's systems ({', '.join(systems)})")


def _strength(value: Any, line: int) -> int | None:
    if value in (None, ""):
        return None
    number = _number(value, line, "strength")
    if number != int(number) or number < 0:
        raise FormatError(line, "strength", "must be a whole number")
    return int(number) or None


class _PairwiseImporter(JudgmentImporter):
    task_types = ("pairwise",)
    required: tuple[str, ...] = ()
    known: tuple[str, ...] | None = None
    rater_field = "rater"
    outcome_field = "winner"

    def group_key(self, row: Mapping[str, Any], line: int, item_id: str, systems: frozenset, rater: str) -> tuple:
        return (item_id, systems, rater)

    def parse_judgments(self, lines: Iterable[str]) -> Iterator[JudgmentRecord]:
        current: _Pair | None = None
        for line, row in read_rows(lines, self.file_format, self.required, self.known):
            for name in self.required:
                if row.get(name) in (None, ""):
                    raise FormatError(line, name, "this field is required")
            item_id = _text(row["item_id"], line, "item_id")
            systems = (_text(row["system_a"], line, "system_a"), _text(row["system_b"], line, "system_b"))
            if systems[0] == systems[1]:
                raise FormatError(line, "system_b", "a pair needs two different systems")
            rater = _text(row[self.rater_field], line, self.rater_field)
            outcome = row[self.outcome_field]
            if not isinstance(outcome, str):
                raise FormatError(line, self.outcome_field, "must be text")
            choice = _choice(outcome.strip(), systems, line, self.outcome_field)
            aspect = row.get("aspect") or ""
            if not isinstance(aspect, str):
                raise FormatError(line, "aspect", "must be text")
            key = self.group_key(row, line, item_id, frozenset(systems), rater)
            if aspect.strip():
                if current is None or current.key != key:
                    raise FormatError(line, "aspect", "an aspect row must follow its judgment's overall row (same item, pair and rater)")
                if aspect.strip() in current.aspects:
                    raise FormatError(line, "aspect", f"aspect {aspect.strip()!r} given twice for this judgment")
                current.aspects[aspect.strip()] = choice
                continue
            if current is not None:
                yield current.record()
            first = row.get("first_shown") or ""
            if first and first not in systems:
                raise FormatError(line, "first_shown", f"{first!r} is not one of the pair's systems ({', '.join(systems)})")
            current = _Pair(key, item_id, systems, rater, line, choice, _strength(row.get("strength"), line), first)
        if current is not None:
            yield current.record()


@register_judgment_importer
class PairwiseLabelsImporter(_PairwiseImporter):
    name = "pairwise-labels"
    label = "Pairwise labels made elsewhere: item_id, system_a, system_b, winner (a|b|tie), rater (CSV or JSONL)"
    required = ("item_id", "system_a", "system_b", "winner", "rater")
    known = ("item_id", "system_a", "system_b", "winner", "rater", "strength", "aspect", "first_shown")


@register_judgment_importer
class PairwiseJudgmentsImporter(_PairwiseImporter):
    name = "pairwise-judgments"
    label = "The pairwise-judgments export (JSONL) read back as judgments"
    required = ("item_id", "system_a", "system_b", "outcome", "annotator")
    rater_field = "annotator"
    outcome_field = "outcome"

    def group_key(self, row, line, item_id, systems, rater):
        # one judgment's rows (overall choice and aspects) share its annotation id
        return (row.get("annotation_id"), item_id, systems, rater)


# --- scores ----------------------------------------------------------------------------------


@register_judgment_importer
class ScoresLongImporter(JudgmentImporter):
    name = "scores-long"
    label = "The scores-long export (CSV) read back as judgments: Likert ratings, rubric criteria"
    task_types = ("likert", "rubric")
    required = ("item_id", "system", "annotator", "aspect", "score")

    def parse_judgments(self, lines: Iterable[str]) -> Iterator[JudgmentRecord]:
        item: str | None = None
        raters: dict[str, dict[str, Any]] = {}
        finished: dict[str, int] = {}
        for line, row in read_rows(lines, self.file_format, self.required, None):
            for name in self.required:
                if row.get(name) in (None, ""):
                    raise FormatError(line, name, "this field is required")
            item_id = _text(row["item_id"], line, "item_id")
            if item_id != item:
                if item is not None:
                    finished[item] = line - 1
                    yield from self._records(item, raters)
                if item_id in finished:
                    raise FormatError(line, "item_id", f"item {item_id!r} appears again after other items (its rows ended at line "
                                      f"{finished[item_id]}); the rows of one item must be next to each other")
                item, raters = item_id, {}
            system = _text(row["system"], line, "system")
            rater = _text(row["annotator"], line, "annotator")
            aspect = _text(row["aspect"], line, "aspect")
            score = _number(row["score"], line, "score")
            entry = raters.setdefault(rater, {"line": line, "scores": {}, "lines": {}})
            per = entry["scores"].setdefault(system, {})
            entry["lines"].setdefault(system, line)
            if aspect in per:
                raise FormatError(line, "aspect", f"{rater!r} scored {aspect!r} of {system!r} twice for item {item_id!r}")
            per[aspect] = score
        if item is not None:
            yield from self._records(item, raters)

    @staticmethod
    def _records(item_id: str, raters: dict[str, dict[str, Any]]) -> Iterator[JudgmentRecord]:
        for rater, entry in raters.items():
            yield JudgmentRecord(item_id, tuple(entry["scores"]), rater, {"scores": entry["scores"]}, entry["line"], entry["lines"])
