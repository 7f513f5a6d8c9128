"""`raw`: every judgment with its full provenance, one JSON object a line (archive, audit)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from exports.formats.base import (
    COMMON_OPTIONS,
    AnnotationRow,
    ExportContext,
    Exporter,
    ExportSummary,
    FileSchema,
)
from exports.formats.jsonl import fragment, open_jsonl, write_fragments
from exports.formats.registry import register_exporter

FILE = "raw.jsonl"
COLUMNS = {
    "unit_id": "the unit (item + candidates shown) judged",
    "item_id": "the item's id",
    "prompt": "text or chat messages",
    "reference": "optional reference",
    "doc_id": "document id",
    "seg_id": "segment id",
    "meta": "the item's free-form metadata",
    "candidates": "the unit's candidates: id, system, text, judges (automatic scores)",
    "annotation_id": "the judgment's id",
    "display_order": "candidate ids as shown, left to right",
    "annotator": "pseudonymous annotator id",
    "response": "the response as stored (validated by the task type)",
    "records": "the response as common records: pairwise outcomes and scores",
    "strategy": "elicitation strategy that chose the unit",
    "propensity": "probability with which it was chosen",
    "submitted_at": "ISO 8601 time of submission",
    "duration_ms": "time spent on the unit, as measured by the client",
    "revision": "1 for the first answer; higher for later revisions",
    "unit_kind": '"regular", or "gold" / "attention" for quality-control units',
    "annotator_excluded": "true when quality control excluded the annotator (failed checks)",
}


@register_exporter
class Raw(Exporter):
    name = "raw"
    label = "Raw judgments with full provenance (JSONL)"
    # An archive keeps everything unless told otherwise: quality-control units and excluded
    # annotators included (and flagged).
    common_option_defaults = {**COMMON_OPTIONS, "include_excluded_annotators": True, "include_qc_units": True}

    def write(self, rows: Iterable[AnnotationRow], out_dir: Path, ctx: ExportContext) -> ExportSummary:
        self.parse_options(ctx.options)
        counts = Counter(judgments=0)
        unit_key, shared, shared_candidates = None, "", None  # the rows of a unit share its item and candidates: encode them once
        with open_jsonl(out_dir / FILE) as out:
            for row in rows:
                if row.unit_id != unit_key or row.candidates is not shared_candidates:
                    unit_key, shared_candidates = row.unit_id, row.candidates
                    shared = fragment({
                        "unit_id": row.unit_id,
                        "item_id": row.item_id,
                        "prompt": row.prompt,
                        "reference": row.reference,
                        "doc_id": row.doc_id,
                        "seg_id": row.seg_id,
                        "meta": row.meta,
                        "candidates": [{"id": c.id, "system": c.system, "text": c.text, "judges": dict(c.judges)} for c in row.candidates],
                    })
                write_fragments(
                    out,
                    shared,
                    {
                        "annotation_id": row.annotation_id,
                        "display_order": list(row.display_order),
                        "annotator": row.annotator,
                        "response": row.response,
                        "records": {
                            "pairs": [{"a": p.a, "b": p.b, "outcome": p.outcome, "strength": p.strength, "aspect": p.aspect} for p in row.records.pairs],
                            "scores": [{"candidate_id": s.candidate_id, "aspect": s.aspect, "score": s.score} for s in row.records.scores],
                        },
                        "strategy": row.strategy,
                        "propensity": row.propensity,
                        "submitted_at": row.submitted_at,
                        "duration_ms": row.duration_ms,
                        "revision": row.revision,
                        "unit_kind": row.unit_kind,
                        "annotator_excluded": row.annotator_excluded,
                    },
                )
                counts["judgments"] += 1
        return ExportSummary(files=[FileSchema(FILE, COLUMNS)], counts=dict(counts))
