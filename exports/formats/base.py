"""The format extension point: exporters and importers. Pure: no Django.

Exporters read a stream of AnnotationRow (ordered by item, then unit, so that the judgments
of one unit, and the units of one item, arrive together) and write files into a folder;
memory must not grow with the stream. Importers read lines and yield records, raising
FormatError that names line and field.

Options every exporter takes (COMMON_OPTIONS) are applied before `write` sees the rows, by
`exports.formats.pipeline.run_exporter`: excluded annotators, speeders and quality-control
units (gold, attention checks) never reach a format, and are counted in the card.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotation.task_types.base import Records


class FormatError(ValueError):
    def __init__(self, line: int | None, field: str, message: str):
        where = f"line {line}, " if line is not None else ""
        super().__init__(f"{where}{field}: {message}")
        self.line = line
        self.field = field
        self.message = message


def jsonl_objects(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line of a JSONL file; a line that is not a
    JSON object is refused, naming it."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise FormatError(number, "json", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise FormatError(number, "row", "must be a JSON object")
        yield number, obj


def csv_records(reader, header: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) of each non-blank row a csv.reader gives after its
    header; a row with another number of fields than the header is refused, naming it.
    Line numbers are the file's (a quoted field may span lines)."""
    start = reader.line_num + 1
    for values in reader:
        line, start = start, reader.line_num + 1
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise FormatError(line, "row", f"has {len(values)} fields; the header has {len(header)}")
        yield line, dict(zip(header, values, strict=True))


# The rows of an export are made a million times: slotted, not frozen (a frozen dataclass's
# __init__ sets each field through object.__setattr__, 2.7 µs a row of 20 fields against 0.3).
# Treat them as read-only all the same; dataclasses.replace makes a changed copy.
@dataclass(slots=True)
class CandidateRow:
    id: int
    system: str
    text: str
    judges: Mapping[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class AnnotationRow:
    annotation_id: int
    unit_id: int
    item_id: str  # the item's external id
    prompt: Any  # text, or a list of {"role", "content"} messages
    candidates: tuple[CandidateRow, ...]  # the unit's candidates, canonical order
    display_order: tuple[int, ...]  # candidate ids as shown, left to right
    annotator: str  # pseudonymous annotator id
    response: Mapping[str, Any]
    records: Records
    strategy: str
    propensity: float
    submitted_at: str
    duration_ms: int | None = None
    revision: int = 1
    reference: str = ""
    doc_id: str = ""
    seg_id: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    unit_kind: str = "regular"  # "regular", or "gold" / "attention" for quality-control units
    annotator_excluded: bool = False  # excluded by the study's quality control (failed checks)

    def candidate(self, candidate_id: int) -> CandidateRow:
        for c in self.candidates:
            if c.id == candidate_id:
                return c
        raise KeyError(candidate_id)


@dataclass(frozen=True)
class ExportContext:
    spec: Mapping[str, Any]  # the study spec
    options: Mapping[str, Any]


@dataclass(frozen=True)
class FileSchema:
    """One data file. Files sharing a `config` are the splits of one dataset configuration
    (`datasets.load_dataset(folder, config, split=...)`); an empty config gives each file its
    own ("default" for the first)."""

    path: str
    columns: Mapping[str, str]  # column -> description
    split: str = "train"
    config: str = ""
    rows: int | None = None
    # False for a file whose name another tool fixes (mt-metrics-eval's *.seg.score) in a form
    # `datasets` cannot read: described in the card, left out of its configurations
    loadable: bool = True


@dataclass
class ExportSummary:
    files: list[FileSchema]
    counts: dict[str, int]
    notes: list[str] = field(default_factory=list)


COMMON_OPTIONS: Mapping[str, Any] = {
    "include_excluded_annotators": False,  # keep annotators the study's quality control excluded
    "exclude_annotators": [],  # further pseudonymous annotator ids ("a12") to leave out
    "exclude_speeders": False,  # leave out judgments faster than quality.min_seconds_per_unit
    "include_qc_units": False,  # keep judgments of gold, attention-check and swapped-repeat units
}


def parse_common_options(options: Mapping[str, Any]) -> None:
    excluded = options["exclude_annotators"]
    if not isinstance(excluded, list) or not all(isinstance(a, str) and a for a in excluded):
        raise FormatError(None, "options.exclude_annotators", 'must be a list of annotator ids such as ["a12"]')
    for key in ("include_excluded_annotators", "exclude_speeders", "include_qc_units"):
        if not isinstance(options[key], bool):
            raise FormatError(None, f"options.{key}", "must be true or false")


class Exporter(ABC):
    name: str = ""
    label: str = ""
    option_defaults: Mapping[str, Any] = {}
    common_option_defaults: Mapping[str, Any] = COMMON_OPTIONS
    task_types: tuple[str, ...] | None = None  # the task types it can export; None: any

    def check_task_type(self, task_type: str) -> None:
        if self.task_types is not None and task_type not in self.task_types:
            kinds = ", ".join(self.task_types[:-1]) + " and " + self.task_types[-1] if len(self.task_types) > 1 else self.task_types[0]
            raise FormatError(None, "format", f"{self.name} exports {kinds} studies, not {task_type}")

    def parse_options(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        known = {**self.common_option_defaults, **self.option_defaults}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            expected = ", ".join(sorted(known)) or "none"
            raise FormatError(None, f"options.{unknown[0]}", f"unknown option; expected: {expected}")
        options = {**known, **raw}
        parse_common_options(options)
        return options

    @abstractmethod
    def write(self, rows: Iterable[AnnotationRow], out_dir: Path, ctx: ExportContext) -> ExportSummary:
        """Write the export's data files into out_dir (which exists and is empty)."""


@dataclass(frozen=True)
class CandidateRecord:
    system: str
    text: str
    judges: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemRecord:
    id: str
    prompt: Any
    candidates: tuple[CandidateRecord, ...]
    reference: str = ""
    doc_id: str = ""
    seg_id: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0


class ItemImporter(ABC):
    name: str = ""
    label: str = ""

    @abstractmethod
    def parse(self, lines: Iterable[str]) -> Iterator[ItemRecord]:
        """Yield items; raise FormatError naming the line and field of the first bad row."""
