"""`trl-preference`: prompt / chosen / rejected for reward-model and DPO training (TRL's
preference format), with provenance columns. Ties and "both bad" are counted, never paired.

One row per judgment by default (keeps display order and propensity), or one row per pair
with `aggregate: "majority"`. Chat prompts give the conversational form.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import groupby
from pathlib import Path
from typing import Any

from exports.formats.base import AnnotationRow, ExportContext, Exporter, ExportSummary, FileSchema, FormatError
from exports.formats.jsonl import open_jsonl, write_line
from exports.formats.registry import register_exporter

FILE = "trl_preference.jsonl"
OUTCOMES = ("a", "b", "tie", "both_bad")

COLUMNS = {
    "prompt": "the prompt: text, or chat messages in the conversational form",
    "chosen": "the preferred completion (text, or one assistant message)",
    "rejected": "the other completion",
    "margin": "preference strength on the study's scale (per judgment) or vote margin (aggregated); null without a scale",
    "prompt_id": "the item's id",
    "chosen_system": "system that produced `chosen`",
    "rejected_system": "system that produced `rejected`",
    "votes_chosen": "judgments of this pair preferring `chosen`",
    "votes_rejected": "judgments preferring `rejected`",
    "votes_tie": "judgments calling it a tie",
    "votes_both_bad": "judgments calling both bad",
    "agreement": "share of this pair's judgments that agree with this row",
    "annotator": "pseudonymous annotator id (per-judgment rows only)",
    "display_order": "systems as shown, left to right (per-judgment rows only)",
    "strategy": "elicitation strategy that chose the unit (per-judgment rows only)",
    "propensity": "probability with which the strategy chose the unit (per-judgment rows only)",
}


def _as_messages(prompt: Any) -> list[dict[str, str]]:
    return prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]


def _as_text(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt)


@register_exporter
class TrlPreference(Exporter):
    name = "trl-preference"
    label = "TRL preference pairs (JSONL): prompt, chosen, rejected"
    option_defaults = {"aggregate": "none", "conversational": "auto"}

    def parse_options(self, raw):
        options = super().parse_options(raw)
        if options["aggregate"] not in ("none", "majority"):
            raise FormatError(None, "options.aggregate", 'must be "none" (one row per judgment) or "majority"')
        if options["conversational"] not in ("auto", True, False):
            raise FormatError(None, "options.conversational", 'must be "auto", true or false')
        return options

    def write(self, rows: Iterable[AnnotationRow], out_dir: Path, ctx: ExportContext) -> ExportSummary:
        options = self.parse_options(ctx.options)
        counts = Counter({"judgments": 0, "pairs_written": 0, "ties": 0, "both_bad": 0, "no_majority": 0, "units": 0})
        conversational = options["conversational"]
        with open_jsonl(out_dir / FILE) as out:
            for _, unit_rows in groupby(rows, key=lambda r: r.unit_id):
                unit_rows = list(unit_rows)  # one unit's judgments: bounded by its redundancy
                counts["units"] += 1
                if conversational == "auto":
                    conversational = isinstance(unit_rows[0].prompt, list)
                judged = [(row, pair) for row in unit_rows for pair in row.records.pairs if pair.aspect == ""]
                votes = Counter(pair.outcome for _, pair in judged)
                counts["judgments"] += len(judged)
                counts["ties"] += votes["tie"]
                counts["both_bad"] += votes["both_bad"]
                if options["aggregate"] == "majority":
                    counts["pairs_written"] += self._write_majority(out, unit_rows[0], judged, votes, conversational, counts)
                else:
                    for row, pair in judged:
                        if pair.outcome in ("a", "b"):
                            won = pair.a if pair.outcome == "a" else pair.b
                            lost = pair.b if pair.outcome == "a" else pair.a
                            record = self._pair(row, won, lost, votes, pair.outcome, conversational)
                            record["margin"] = pair.strength if ctx.spec.get("task_config", {}).get("strength_scale") else None
                            record.update(
                                annotator=row.annotator,
                                display_order=[row.candidate(c).system for c in row.display_order],
                                strategy=row.strategy,
                                propensity=row.propensity,
                            )
                            write_line(out, record)
                            counts["pairs_written"] += 1
        columns = dict(COLUMNS)
        if options["aggregate"] == "majority":
            for key in ("annotator", "display_order", "strategy", "propensity"):
                columns.pop(key)
        return ExportSummary(files=[FileSchema(FILE, columns)], counts=dict(counts))

    def _pair(self, row: AnnotationRow, won: int, lost: int, votes: Counter, outcome: str, conversational: bool) -> dict[str, Any]:
        chosen, rejected = row.candidate(won), row.candidate(lost)
        other = "b" if outcome == "a" else "a"
        total = sum(votes.values())
        if conversational:
            prompt: Any = _as_messages(row.prompt)
            chosen_out: Any = [{"role": "assistant", "content": chosen.text}]
            rejected_out: Any = [{"role": "assistant", "content": rejected.text}]
        else:
            prompt, chosen_out, rejected_out = _as_text(row.prompt), chosen.text, rejected.text
        return {
            "prompt": prompt,
            "chosen": chosen_out,
            "rejected": rejected_out,
            "margin": None,
            "prompt_id": row.item_id,
            "chosen_system": chosen.system,
            "rejected_system": rejected.system,
            "votes_chosen": votes[outcome],
            "votes_rejected": votes[other],
            "votes_tie": votes["tie"],
            "votes_both_bad": votes["both_bad"],
            "agreement": round(votes[outcome] / total, 6) if total else None,
        }

    def _write_majority(self, out, row: AnnotationRow, judged, votes: Counter, conversational: bool, counts: Counter) -> int:
        if not judged:
            return 0
        pair = judged[0][1]
        ranked = votes.most_common()
        top, top_votes = ranked[0]
        if top not in ("a", "b") or (len(ranked) > 1 and ranked[1][1] == top_votes):
            counts["no_majority"] += 1
            return 0
        won, lost = (pair.a, pair.b) if top == "a" else (pair.b, pair.a)
        record = self._pair(row, won, lost, votes, top, conversational)
        record["margin"] = votes[top] - votes["b" if top == "a" else "a"]
        write_line(out, record)
        return 1
