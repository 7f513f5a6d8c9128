"""`rewardbench`: a reward-model evaluation set in RewardBench's columns (`prompt`, `chosen`,
`chosen_model`, `rejected`, `rejected_model`, `subset`, `id`), one row per judged pair with
a clear human preference, plus provenance (`prompt_id`, `agreement`, vote counts).

Options: aggregate ("majority", the default, or "bt"), ties, min_agreement (e.g. 0.75 to keep
only clear-cut pairs, as RewardBench's curation does), subset (default: the study's slug),
file_format ("parquet" by default, as RewardBench ships, or "jsonl"), test_size and seed.
Chat prompts are written as text (RewardBench prompts are a single user turn).
"""

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
from exports.formats.preferences import (
    PREFERENCE_OPTIONS,
    as_text,
    parse_preference_options,
    preference_pairs,
)
from exports.formats.registry import register_exporter
from exports.formats.sinks import Table, parse_file_format
from exports.formats.splits import SPLIT_OPTIONS, parse_split_options, splitter_from

STEM = "rewardbench"

COLUMNS = {
    "prompt": ("string", "the prompt as text (chat messages rendered as `role: content` paragraphs)"),
    "chosen": ("string", "the completion humans preferred"),
    "chosen_model": ("string", "system that produced `chosen`"),
    "rejected": ("string", "the other completion"),
    "rejected_model": ("string", "system that produced `rejected`"),
    "subset": ("string", "subset name (option subset; the study's slug by default)"),
    "id": ("int", "row number, from 0"),
    "prompt_id": ("string", "the item's id"),
    "agreement": ("float", "share of this pair's judgments preferring `chosen`"),
    "votes_chosen": ("int", "judgments preferring `chosen`"),
    "votes_total": ("int", "judgments of this pair, ties and both-bad included"),
}


@register_exporter
class RewardBench(Exporter):
    name = "rewardbench"
    label = "RewardBench-style evaluation pairs (Parquet or JSONL)"
    task_types = ("pairwise",)
    option_defaults = {**PREFERENCE_OPTIONS, "aggregate": "majority", "subset": "", "file_format": "parquet", **SPLIT_OPTIONS}

    def parse_options(self, raw):
        options = super().parse_options(raw)
        parse_preference_options(options, ("majority", "bt"))
        parse_split_options(options)
        parse_file_format(options)
        if not isinstance(options["subset"], str) or len(options["subset"]) > 100:
            raise FormatError(None, "options.subset", "must be a name of at most 100 characters")
        return options

    def write(self, rows: Iterable[AnnotationRow], out_dir: Path, ctx: ExportContext) -> ExportSummary:
        if ctx.spec.get("task_type", "pairwise") != "pairwise":
            raise FormatError(None, "task_type", "rewardbench needs a pairwise study")
        options = self.parse_options(ctx.options)
        subset = options["subset"] or str(ctx.spec.get("slug", ""))
        counts: Counter = Counter(pairs_written=0)
        splitter = splitter_from(options)
        table = Table(out_dir, STEM, COLUMNS, options["file_format"], splitter)
        try:
            for number, pair in enumerate(preference_pairs(rows, options, counts)):
                row = pair.row
                chosen, rejected = pair.chosen, pair.rejected
                split = splitter.split_of(row.prompt)
                table.write(
                    {
                        "prompt": as_text(row.prompt),
                        "chosen": chosen.text,
                        "chosen_model": chosen.system,
                        "rejected": rejected.text,
                        "rejected_model": rejected.system,
                        "subset": subset,
                        "id": number,
                        "prompt_id": row.item_id,
                        "agreement": pair.agreement,
                        "votes_chosen": pair.votes_chosen,
                        "votes_total": pair.votes_total,
                    },
                    split,
                )
                counts["pairs_written"] += 1
        except BaseException:
            table.abort()
            raise
        return ExportSummary(files=table.close(), counts=dict(counts))
