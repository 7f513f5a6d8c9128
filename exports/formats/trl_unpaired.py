"""`trl-unpaired`: prompt / completion / label for KTO-style training (TRL's unpaired
preference format), as JSONL or Parquet. Each preference pair gives two rows: the chosen
completion labelled true, the rejected one false (as TRL's `unpair_preference_dataset`).
A "both bad" judgment labels both completions false (option both_bad: "negative", the
default) or is left out ("drop"); ties are counted, never labelled.

Other options as trl-preference: aggregate ("none" or "majority"), ties, min_agreement,
conversational, file_format, test_size and seed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import groupby
from pathlib import Path

from exports.formats.base import (
    AnnotationRow,
    ExportContext,
    Exporter,
    ExportSummary,
    FormatError,
)
from exports.formats.preferences import (
    PREFERENCE_OPTIONS,
    latest_revisions,
    parse_preference_options,
    preference_pairs,
    shape_prompt,
)
from exports.formats.registry import register_exporter
from exports.formats.sinks import Table, parse_file_format
from exports.formats.splits import SPLIT_OPTIONS, parse_split_options, splitter_from

STEM = "trl_unpaired"

COLUMNS = {
    "prompt": ("text", "the prompt: text, or chat messages in the conversational form"),
    "completion": ("text", "a completion (text, or one assistant message)"),
    "label": ("bool", "true: desirable (it won its pair); false: undesirable (it lost, or was judged with its pair as both bad)"),
    "prompt_id": ("string", "the item's id"),
    "system": ("string", "system that produced the completion"),
    "other_system": ("string", "the system it was compared with"),
    "source": ("string", '"won", "lost" or "both_bad": what made the label'),
    "votes_for": ("int", "judgments agreeing with the label"),
    "votes_total": ("int", "judgments of this pair"),
    "annotator": ("string", "pseudonymous annotator id (per-judgment rows only)"),
}


@register_exporter
class TrlUnpaired(Exporter):
    name = "trl-unpaired"
    label = "TRL unpaired preferences for KTO (JSONL or Parquet): prompt, completion, label"
    task_types = ("pairwise",)
    option_defaults = {**PREFERENCE_OPTIONS, "both_bad": "negative", "conversational": "auto", "file_format": "jsonl", **SPLIT_OPTIONS}

    def parse_options(self, raw):
        options = super().parse_options(raw)
        parse_preference_options(options, ("none", "majority"))
        parse_split_options(options)
        parse_file_format(options)
        if options["conversational"] not in ("auto", True, False):
            raise FormatError(None, "options.conversational", 'must be "auto", true or false')
        if options["both_bad"] not in ("negative", "drop"):
            raise FormatError(None, "options.both_bad", 'must be "negative" (both completions labelled false) or "drop"')
        return options

    def write(self, rows: Iterable[AnnotationRow], out_dir: Path, ctx: ExportContext) -> ExportSummary:
        if ctx.spec.get("task_type", "pairwise") != "pairwise":
            raise FormatError(None, "task_type", "trl-unpaired needs a pairwise study")
        options = self.parse_options(ctx.options)
        counts: Counter = Counter(rows_written=0, both_bad_rows=0)
        splitter = splitter_from(options)
        conversational = options["conversational"]
        per_judgment = options["aggregate"] == "none"
        table = None
        try:
            for row, records in self._records(rows, options, counts, per_judgment):
                if table is None:
                    if conversational == "auto":
                        conversational = isinstance(row.prompt, list)
                    table = Table(out_dir, STEM, self.columns(conversational, per_judgment), options["file_format"], splitter)
                split = splitter.split_of(row.prompt)
                prompt = shape_prompt(row.prompt, conversational)
                for record in records:
                    text = record.pop("completion")
                    completion = [{"role": "assistant", "content": text}] if conversational else text
                    table.write({"prompt": prompt, "completion": completion, **record}, split)
                    counts["rows_written"] += 1
            if table is None:
                table = Table(out_dir, STEM, self.columns(conversational is True, per_judgment), options["file_format"], splitter)
        except BaseException:
            if table is not None:
                table.abort()
            raise
        notes = []
        if splitter.test_size:
            notes.append(f"Train/test split by prompt (seed {options['seed']}, test share {options['test_size']}): no prompt appears in both splits.")
        return ExportSummary(files=table.close(), counts=dict(counts), notes=notes)

    @staticmethod
    def columns(conversational: bool, per_judgment: bool) -> dict[str, tuple[str, str]]:
        text_kind = "messages" if conversational else "string"
        columns = {name: (text_kind if kind == "text" else kind, meaning) for name, (kind, meaning) in COLUMNS.items()}
        if not per_judgment:
            columns.pop("annotator")
        return columns

    def _records(self, rows, options, counts, per_judgment):
        """(row, records) per pair, plus the both-bad judgments (or units) as negatives."""
        both_bad = options["both_bad"] == "negative"
        pending_both_bad: list = []

        def watched(stream):
            # preference_pairs drops both-bad votes; notice them on the way to label them false
            for _, unit_rows in groupby(stream, key=lambda r: r.unit_id):
                unit_rows = list(unit_rows)
                outcomes = [(row, p) for row in latest_revisions(unit_rows) for p in row.records.pairs if p.aspect == ""]
                if both_bad:
                    total = len(outcomes)
                    bad = [(row, p) for row, p in outcomes if p.outcome == "both_bad"]
                    if per_judgment:
                        pending_both_bad.extend((row, p, 1, total) for row, p in bad)
                    elif bad and len(bad) * 2 > total:  # a strict majority called both bad
                        pending_both_bad.append((unit_rows[0], bad[0][1], len(bad), total))
                yield from unit_rows

        for pair in preference_pairs(watched(rows), options, counts):
            yield from self._flush_both_bad(pending_both_bad, counts, per_judgment)
            row = pair.row
            won, lost = pair.chosen, pair.rejected
            total = pair.votes_total
            base = {"prompt_id": row.item_id}
            if per_judgment:
                base["annotator"] = row.annotator
            yield row, [
                {"completion": won.text, "label": True, **base, "system": won.system, "other_system": lost.system,
                 "source": "won", "votes_for": pair.votes_chosen, "votes_total": total},
                {"completion": lost.text, "label": False, **base, "system": lost.system, "other_system": won.system,
                 "source": "lost", "votes_for": pair.votes_chosen, "votes_total": total},
            ]
        yield from self._flush_both_bad(pending_both_bad, counts, per_judgment)

    @staticmethod
    def _flush_both_bad(pending: list, counts: Counter, per_judgment: bool):
        while pending:
            row, p, votes, total = pending.pop(0)
            a, b = row.candidate(p.a), row.candidate(p.b)
            base = {"prompt_id": row.item_id}
            if per_judgment:
                base["annotator"] = row.annotator
            counts["both_bad_rows"] += 2
            yield row, [
                {"completion": a.text, "label": False, **base, "system": a.system, "other_system": b.system,
                 "source": "both_bad", "votes_for": votes, "votes_total": total},
                {"completion": b.text, "label": False, **base, "system": b.system, "other_system": a.system,
                 "source": "both_bad", "votes_for": votes, "votes_total": total},
            ]
