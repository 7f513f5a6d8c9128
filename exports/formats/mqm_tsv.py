"""`mqm-tsv`: the TSV of google/wmt-mqm-human-evaluation, both ways.

File layout (UTF-8, tab-separated, one header line, no quoting at all: fields hold literal
double quotes, and can hold neither tabs nor newlines):

    system  doc  doc_id  seg_id  rater  source  target  category  severity  [comment]

One row per error. The error's span is marked with <v>...</v> inside `target`, or inside
`source` for a source-side error; a whole-segment error (e.g. Non-translation) marks nothing.
A judgment without errors is one row with category and severity `No-error`. Severities are
capitalized (Minor, Major, Critical, Neutral). In the WMT files `doc_id` is the segment's
position inside its document and `seg_id` the segment's id in the test set.

Mapping to Trenchcoat
    item        one per seg_id: id = seg_id, prompt = source (markers removed),
                doc_id = doc, seg_id = seg_id, meta = {"tsv_doc_id": <doc_id column>}
    candidate   one per system: text = target with the markers removed
    judgment    one per (system, seg_id, rater): an mqm response {"errors": [...],
                "no_error": bool}, offsets in code points of the unmarked text, severities
                lower-cased, the comment column as the note
The exporter writes `rater` = the pseudonymous annotator id, `doc_id` = meta["tsv_doc_id"]
when the item came from such a file (else the item's seg_id), and the other columns back
from the item. An ESA score has no column here and is left out (counted).

Importer strictness: a wrong column count, an unknown severity, a category/severity that
disagree about No-error, or unbalanced <v> markers raise FormatError naming line and field.
The real mqm_ted_ende.tsv has one row (line 6444) whose <v> is never closed; pass
`MqmTsvImporter(unclosed_span="to_end")` to read such a span as running to the end of the
text (the export then writes the closing </v>).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from exports.formats.base import (
    AnnotationRow,
    CandidateRecord,
    ExportContext,
    Exporter,
    ExportSummary,
    FileSchema,
    FormatError,
    ItemImporter,
    ItemRecord,
)
from exports.formats.registry import register_exporter, register_importer

FILE = "mqm.tsv"
HEADER = ("system", "doc", "doc_id", "seg_id", "rater", "source", "target", "category", "severity")
COMMENT = "comment"
NO_ERROR = "No-error"
OPEN, CLOSE = "<v>", "</v>"
SEVERITY_OUT = {"minor": "Minor", "major": "Major", "critical": "Critical", "neutral": "Neutral"}
SEVERITY_IN = {v: k for k, v in SEVERITY_OUT.items()}

COLUMNS = {
    "system": "system (model) that produced the target",
    "doc": "document name (the item's doc_id)",
    "doc_id": "segment position in its document, as imported (else the item's seg_id)",
    "seg_id": "segment id (the item's seg_id, else its id)",
    "rater": "pseudonymous annotator id",
    "source": "source text (the item's prompt); a source-side error's span is marked <v>...</v>",
    "target": "the system's translation; a target-side error's span is marked <v>...</v>",
    "category": "error category (Top/Sub), or No-error for a judgment without errors",
    "severity": "Minor, Major, Critical or Neutral; No-error for a judgment without errors",
    "comment": "the annotator's note on the error",
}


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MqmError:
    start: int  # code points into the unmarked text; start == end == 0 for a whole-segment error
    end: int
    side: str  # "target" or "source"
    category: str
    severity: str  # lower case: minor, major, critical, neutral
    note: str = ""

    def as_response(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "side": self.side, "category": self.category, "severity": self.severity, "note": self.note}


@dataclass(frozen=True)
class MqmJudgment:
    """One rater's errors for one system's translation of one segment."""

    system: str
    rater: str
    errors: tuple[MqmError, ...]
    line: int  # first line of this judgment

    @property
    def no_error(self) -> bool:
        return not self.errors

    def response(self) -> dict[str, Any]:
        """The judgment as an mqm task-type response (validate it against the study's config)."""
        return {"errors": [e.as_response() for e in self.errors], "no_error": not self.errors}


@dataclass(frozen=True)
class MqmSegment:
    """One segment: the item (source + every system's target) and every judgment of it."""

    item: ItemRecord
    judgments: tuple[MqmJudgment, ...]
    comment_column: bool = True


# --- markers -------------------------------------------------------------------------------


def unmark(text: str, line: int, field_name: str, unclosed: str = "error") -> tuple[str, tuple[int, int] | None]:
    """Remove one <v>...</v> pair; return the plain text and the span (code points) it marked."""
    opens, closes = text.count(OPEN), text.count(CLOSE)
    if opens == 0 and closes == 0:
        return text, None
    a = text.find(OPEN)
    if opens == 1 and closes == 1 and a < text.find(CLOSE):
        c = text.find(CLOSE)
        plain = text[:a] + text[a + len(OPEN):c] + text[c + len(CLOSE):]
        span = (a, c - len(OPEN))
    elif opens == 1 and closes == 0 and unclosed == "to_end":
        plain = text[:a] + text[a + len(OPEN):]
        span = (a, len(plain))
    else:
        raise FormatError(line, field_name, f"unbalanced span markers: {opens} <v> and {closes} </v> (expected one <v> before one </v>)")
    if span[0] == span[1]:
        raise FormatError(line, field_name, "empty <v></v> span")
    return plain, span


def mark(text: str, start: int, end: int) -> str:
    return f"{text[:start]}{OPEN}{text[start:end]}{CLOSE}{text[end:]}"


# --- importer ------------------------------------------------------------------------------


@dataclass
class _Seg:
    seg_id: str
    line: int
    doc: str
    doc_id: str
    source: str
    targets: dict[str, tuple[str, int]] = field(default_factory=dict)  # system -> (text, line)
    judgments: dict[tuple[str, str], list] = field(default_factory=dict)  # (system, rater) -> [line, no_error line, errors]


@register_importer
class MqmTsvImporter(ItemImporter):
    name = "mqm-tsv"
    label = "MQM annotations, TSV of google/wmt-mqm-human-evaluation (items; judgments via parse_segments)"

    def __init__(self, unclosed_span: str = "error"):
        if unclosed_span not in ("error", "to_end"):
            raise ValueError('unclosed_span must be "error" or "to_end"')
        self.unclosed_span = unclosed_span

    def parse(self, lines: Iterable[str]) -> Iterator[ItemRecord]:
        return (segment.item for segment in self.parse_segments(lines))

    def parse_segments(self, lines: Iterable[str]) -> Iterator[MqmSegment]:
        """Yield one MqmSegment per seg_id, streaming: the rows of one segment must be adjacent
        (as in the WMT files, which are sorted by seg_id); memory holds one segment."""
        columns: tuple[str, ...] | None = None
        current: _Seg | None = None
        finished: dict[str, int] = {}  # seg_id -> line its block ended at
        for number, raw in enumerate(lines, start=1):
            text = raw[:-1] if raw.endswith("\n") else raw
            text = text[:-1] if text.endswith("\r") else text
            if not text.strip():
                continue
            fields = text.split("\t")
            if columns is None:
                columns = self._header(fields, number)
                continue
            if len(fields) != len(columns):
                raise FormatError(number, "columns", f"expected {len(columns)} tab-separated fields, found {len(fields)}")
            row = dict(zip(columns, fields))
            seg_id = row["seg_id"]
            if current is None or seg_id != current.seg_id:
                if current is not None:
                    finished[current.seg_id] = number - 1
                    yield self._segment(current, len(columns) == len(HEADER) + 1)
                if seg_id in finished:
                    raise FormatError(
                        number,
                        "seg_id",
                        f"segment {seg_id!r} appears again after other segments (its rows ended at line {finished[seg_id]}); "
                        "rows of one segment must be adjacent and seg_id unique in the file",
                    )
                current = None
            current = self._row(current, row, number)
        if columns is None:
            raise FormatError(None, "file", "no header line (the file is empty)")
        if current is not None:
            yield self._segment(current, len(columns) == len(HEADER) + 1)

    @staticmethod
    def _header(fields: list[str], number: int) -> tuple[str, ...]:
        names = tuple(f.strip() for f in fields)
        if names not in (HEADER, HEADER + (COMMENT,)):
            raise FormatError(number, "header", f"expected the columns {' '.join(HEADER)} [comment], found {' '.join(names)}")
        return names

    def _row(self, seg: _Seg | None, row: Mapping[str, str], number: int) -> _Seg:
        for key in ("system", "seg_id", "rater"):
            if not row[key].strip():
                raise FormatError(number, key, "this field is required")
        category, severity, note = row["category"], row["severity"], row.get(COMMENT, "")
        if severity != NO_ERROR and severity not in SEVERITY_IN:
            raise FormatError(number, "severity", f"unknown severity {severity!r}; expected one of: {', '.join([*SEVERITY_IN, NO_ERROR])}")
        if (category == NO_ERROR) != (severity == NO_ERROR):
            raise FormatError(number, "category" if severity == NO_ERROR else "severity", "category and severity must both be No-error, or neither")
        if not category.strip():
            raise FormatError(number, "category", "this field is required")
        source, source_span = unmark(row["source"], number, "source", self.unclosed_span)
        target, target_span = unmark(row["target"], number, "target", self.unclosed_span)
        if source_span and target_span:
            raise FormatError(number, "source", "both source and target carry a <v> span; an error sits on one side")
        if seg is None:
            seg = _Seg(row["seg_id"], number, row["doc"], row["doc_id"], source)
        for key, value, expected in (("doc", row["doc"], seg.doc), ("doc_id", row["doc_id"], seg.doc_id), ("source", source, seg.source)):
            if value != expected:
                raise FormatError(number, key, f"differs from line {seg.line}, the segment's first row (markers removed)")
        system, rater = row["system"], row["rater"]
        if system in seg.targets:
            if seg.targets[system][0] != target:
                raise FormatError(number, "target", f"differs from line {seg.targets[system][1]} for the same system and segment (markers removed)")
        else:
            seg.targets[system] = (target, number)
        judgment = seg.judgments.setdefault((system, rater), [number, None, []])
        if severity == NO_ERROR:
            if source_span or target_span:
                raise FormatError(number, "target" if target_span else "source", "a No-error row marks no span")
            if note:
                raise FormatError(number, COMMENT, "a No-error row carries no comment")
            if judgment[1] is not None or judgment[2]:
                raise FormatError(number, "category", f"No-error for a judgment that already has rows (line {judgment[0]})")
            judgment[1] = number
        else:
            if judgment[1] is not None:
                raise FormatError(number, "category", f"an error for a judgment marked No-error on line {judgment[1]}")
            side, span = ("source", source_span) if source_span else ("target", target_span)
            start, end = span if span else (0, 0)
            judgment[2].append(MqmError(start, end, side, category, SEVERITY_IN[severity], note))
        return seg

    @staticmethod
    def _segment(seg: _Seg, comment_column: bool) -> MqmSegment:
        item = ItemRecord(
            id=seg.seg_id,
            prompt=seg.source,
            candidates=tuple(CandidateRecord(system, text) for system, (text, _) in seg.targets.items()),
            doc_id=seg.doc,
            seg_id=seg.seg_id,
            meta={"tsv_doc_id": seg.doc_id},
            line=seg.line,
        )
        judgments = tuple(
            MqmJudgment(system, rater, tuple(errors), line) for (system, rater), (line, _, errors) in seg.judgments.items()
        )
        return MqmSegment(item, judgments, comment_column)


# --- exporter ------------------------------------------------------------------------------


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt)


def latest_revisions(unit_rows: list[AnnotationRow]) -> list[AnnotationRow]:
    """The judgments of one unit, keeping each annotator's latest revision, in stream order."""
    latest: dict[str, AnnotationRow] = {}
    for row in unit_rows:
        kept = latest.get(row.annotator)
        if kept is None or (row.revision, row.annotation_id) >= (kept.revision, kept.annotation_id):
            latest[row.annotator] = row
    keep = {id(r) for r in latest.values()}
    return [r for r in unit_rows if id(r) in keep]


@register_exporter
class MqmTsvExporter(Exporter):
    name = "mqm-tsv"
    label = "MQM error annotations, TSV of google/wmt-mqm-human-evaluation"
    option_defaults = {"comment_column": True}

    def parse_options(self, raw):
        options = super().parse_options(raw)
        if not isinstance(options["comment_column"], bool):
            raise FormatError(None, "options.comment_column", "must be true or false")
        return options

    def write(self, rows: Iterable[AnnotationRow], out_dir: Path, ctx: ExportContext) -> ExportSummary:
        options = self.parse_options(ctx.options)
        task_type = ctx.spec.get("task_type")
        if task_type not in (None, "mqm"):
            raise FormatError(None, "format", f"mqm-tsv exports mqm studies; this study's task type is {task_type!r}")
        comment = options["comment_column"]
        counts = Counter(judgments=0, rows=0, error_rows=0, no_error_rows=0, skipped_not_mqm=0, esa_scores_left_out=0,
                         fields_with_tabs_or_newlines=0, texts_containing_v_markers=0)
        header = HEADER + ((COMMENT,) if comment else ())
        with (out_dir / FILE).open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
            out.write("\t".join(header) + "\n")
            for _, unit_rows in groupby(rows, key=lambda r: r.unit_id):
                for row in latest_revisions(list(unit_rows)):
                    self._write_judgment(out, row, comment, counts)
        notes = []
        if counts["esa_scores_left_out"]:
            notes.append("ESA scores have no column in this format and were left out; use scores-long for them.")
        if counts["fields_with_tabs_or_newlines"]:
            notes.append("Tabs and newlines inside fields were replaced by spaces (one for one, so offsets hold).")
        if counts["texts_containing_v_markers"]:
            notes.append("Some texts contain a literal <v> or </v>; readers of this file will mistake it for a span marker.")
        columns = dict(COLUMNS) if comment else {k: v for k, v in COLUMNS.items() if k != COMMENT}
        return ExportSummary(files=[FileSchema(FILE, columns)], counts=dict(counts), notes=notes)

    @staticmethod
    def _clean(value: Any, counts: Counter) -> str:
        value = "" if value is None else str(value)
        if "\t" in value or "\n" in value or "\r" in value:
            counts["fields_with_tabs_or_newlines"] += 1
            value = value.replace("\t", " ").replace("\r", " ").replace("\n", " ")
        return value

    def _write_judgment(self, out, row: AnnotationRow, comment: bool, counts: Counter) -> None:
        response = row.response or {}
        if "errors" not in response or len(row.candidates) != 1:
            counts["skipped_not_mqm"] += 1
            return
        counts["judgments"] += 1
        if response.get("score") is not None:
            counts["esa_scores_left_out"] += 1
        candidate = row.candidates[0]
        source, target = _prompt_text(row.prompt), candidate.text
        for text in (source, target):
            if OPEN in text or CLOSE in text:
                counts["texts_containing_v_markers"] += 1
        head = [
            candidate.system,
            row.doc_id,
            (row.meta or {}).get("tsv_doc_id") or row.seg_id or row.item_id,
            row.seg_id or row.item_id,
            row.annotator,
        ]
        lines = []
        for error in response["errors"]:
            start, end, side = error.get("start") or 0, error.get("end") or 0, error.get("side", "target")
            src, tgt = source, target
            if end > start:
                if side == "source":
                    src = mark(source, start, end)
                else:
                    tgt = mark(target, start, end)
            severity = SEVERITY_OUT.get(error["severity"], str(error["severity"]).capitalize())
            lines.append([*head, src, tgt, error["category"], severity] + ([error.get("note", "")] if comment else []))
            counts["error_rows"] += 1
        if not lines:
            lines.append([*head, source, target, NO_ERROR, NO_ERROR] + ([""] if comment else []))
            counts["no_error_rows"] += 1
        for fields in lines:
            out.write("\t".join(self._clean(f, counts) for f in fields) + "\n")
            counts["rows"] += 1
