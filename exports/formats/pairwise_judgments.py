"""`pairwise-judgments`: one row per pairwise judgment (and per aspect), ties and both-bad
kept, with what tie-aware meta-evaluation needs beside the human outcome: both candidates'
automatic judge scores and lengths, and the display order (JSONL, or Parquet)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from exports.formats.base import (
    AnnotationRow,
    ExportContext,
    Exporter,
    ExportSummary,
    FormatError,
)
from exports.formats.registry import register_exporter
from exports.formats.sinks import Table, parse_file_format
from exports.formats.splits import SPLIT_OPTIONS, parse_split_options, splitter_from

STEM = "pairwise_judgments"

COLUMNS = {
    "annotation_id": ("int", "the judgment's id"),
    "item_id": ("string", "the item's id"),
    "doc_id": ("string", "document id"),
    "seg_id": ("string", "segment id"),
    "aspect": ("string", 'the aspect judged ("" for the overall choice)'),
    "system_a": ("string", "one system of the pair (candidates in the item's order)"),
    "system_b": ("string", "the other system"),
    "outcome": ("string", '"a", "b", "tie" or "both_bad"'),
    "winner": ("string", "system preferred, null for a tie or both bad"),
    "strength": ("int", "strength of the preference on the study's scale (1 without a scale; 1 for ties)"),
    "first_shown": ("string", "system shown first (left / top)"),
    "judges": ("judge_pairs", "automatic judges' scores of both candidates: [{name, a, b}], null where a judge scored one only"),
    "length_a": ("int", "characters in system_a's text"),
    "length_b": ("int", "characters in system_b's text"),
    "annotator": ("string", "pseudonymous annotator id"),
    "strategy": ("string", "elicitation strategy that chose the unit"),
    "propensity": ("float", "probability with which it was chosen (reweight actively sampled data by 1/propensity)"),
    "submitted_at": ("string", "ISO 8601 time of submission"),
    "duration_ms": ("int", "time spent on the unit, as measured by the client"),
}


@register_exporter
class PairwiseJudgments(Exporter):
    name = "pairwise-judgments"
    label = "Pairwise judgments, one per row, ties kept (JSONL or Parquet)"
    task_types = ("pairwise",)
    option_defaults = {"aspects": True, "file_format": "jsonl", **SPLIT_OPTIONS}

    def parse_options(self, raw):
        options = super().parse_options(raw)
        parse_split_options(options)
        parse_file_format(options)
        if not isinstance(options["aspects"], bool):
            raise FormatError(None, "options.aspects", "must be true (a row per aspect as well) or false (overall choice only)")
        return options

    def write(self, rows: Iterable[AnnotationRow], out_dir: Path, ctx: ExportContext) -> ExportSummary:
        if ctx.spec.get("task_type", "pairwise") != "pairwise":
            raise FormatError(None, "task_type", "pairwise-judgments needs a pairwise study")
        options = self.parse_options(ctx.options)
        counts: Counter = Counter(rows_written=0, ties=0, both_bad=0)
        splitter = splitter_from(options)
        table = Table(out_dir, STEM, COLUMNS, options["file_format"], splitter)
        try:
            for row in rows:
                split = splitter.split_of(row.prompt)
                first = row.candidate(row.display_order[0]).system if row.display_order else None
                for pair in row.records.pairs:
                    if pair.aspect and not options["aspects"]:
                        continue
                    a, b = row.candidate(pair.a), row.candidate(pair.b)
                    winner = a.system if pair.outcome == "a" else b.system if pair.outcome == "b" else None
                    table.write(
                        {
                            "annotation_id": row.annotation_id,
                            "item_id": row.item_id,
                            "doc_id": row.doc_id,
                            "seg_id": row.seg_id,
                            "aspect": pair.aspect,
                            "system_a": a.system,
                            "system_b": b.system,
                            "outcome": pair.outcome,
                            "winner": winner,
                            "strength": pair.strength,
                            "first_shown": first,
                            "judges": [{"name": n, "a": a.judges.get(n), "b": b.judges.get(n)} for n in sorted({*a.judges, *b.judges})],
                            "length_a": len(a.text),
                            "length_b": len(b.text),
                            "annotator": row.annotator,
                            "strategy": row.strategy,
                            "propensity": row.propensity,
                            "submitted_at": row.submitted_at,
                            "duration_ms": row.duration_ms,
                        },
                        split,
                    )
                    counts["rows_written"] += 1
                    if pair.outcome in ("tie", "both_bad"):
                        counts["ties" if pair.outcome == "tie" else "both_bad"] += 1
        except BaseException:
            table.abort()
            raise
        return ExportSummary(files=table.close(), counts=dict(counts))
