"""`trl-preference`: prompt / chosen / rejected for reward-model and DPO training (TRL's
preference format), as JSONL or Parquet, with provenance columns. Ties and "both bad" are
counted, never paired.

Options (besides those every exporter takes):
- aggregate: "none" (one row per decisive judgment: keeps annotator, display order, propensity),
  "majority" (one row per unit with a strict winner) or "bt" (Bradley–Terry per item);
  ties: "count" or "ignore" in the aggregate; min_agreement: drop rows below this share of
  agreeing votes (see preferences.py).
- conversational: "auto" (chat-message prompts give the conversational form), true or false.
- prompt: "explicit" (a `prompt` column) or "implicit" (the prompt is inside `chosen` and
  `rejected`: a message list, or text joined with `separator`, "auto" by default).
- file_format: "jsonl" or "parquet"; test_size and seed: a train/test split by prompt.
- aspect and min_margin: for studies that score rather than compare (likert, mqm, rubric),
  pairs are derived from the mean scores on `aspect` (default: the first Likert aspect, "mqm"
  or "rubric") by `derive.derive_pairs`, keeping those at least `min_margin` apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from exports.formats.base import (
    AnnotationRow,
    ExportContext,
    Exporter,
    ExportSummary,
    FormatError,
)
from exports.formats.jsonl import encode, fragment
from exports.formats.preferences import (
    PREFERENCE_OPTIONS,
    Pair,
    default_aspect,
    derived_pairs,
    parse_preference_options,
    preference_pairs,
    shape_completion,
    shape_prompt,
)
from exports.formats.registry import register_exporter
from exports.formats.sinks import Table, parse_file_format
from exports.formats.splits import SPLIT_OPTIONS, parse_split_options, splitter_from

STEM = "trl_preference"
FILE = f"{STEM}.jsonl"

COLUMNS = {
    "prompt": ("text", "the prompt: text, or chat messages in the conversational form"),
    "chosen": ("text", "the preferred completion (text, or one assistant message; with the prompt in front in the implicit form)"),
    "rejected": ("text", "the other completion, in the same form as `chosen`"),
    "prompt_id": ("string", "the item's id"),
    "chosen_system": ("string", "system that produced `chosen`"),
    "rejected_system": ("string", "system that produced `rejected`"),
    "votes_chosen": ("int", "judgments of this pair preferring `chosen`"),
    "votes_rejected": ("int", "judgments preferring `rejected`"),
    "votes_tie": ("int", "judgments calling it a tie"),
    "votes_both_bad": ("int", "judgments calling both bad"),
    "agreement": ("float", "share of this pair's judgments that agree with this row"),
    "margin": ("float", (
        "preference strength on the study's scale (per judgment; null without a scale), vote margin "
        "(majority) or difference of Bradley–Terry scores (bt)"
    )),
    "annotator": ("string", "pseudonymous annotator id (per-judgment rows only)"),
    "display_order": ("strings", "systems as shown, left to right (per-judgment rows only)"),
    "strategy": ("string", "elicitation strategy that chose the unit (per-judgment rows only)"),
    "propensity": ("float", "probability with which the strategy chose the unit (per-judgment rows only)"),
}
PER_JUDGMENT = ("annotator", "display_order", "strategy", "propensity")


def columns_for(options: dict[str, Any], conversational: bool, per_judgment: bool) -> dict[str, tuple[str, str]]:
    text_kind = "messages" if conversational else "string"
    columns = {name: (text_kind if kind == "text" else kind, meaning) for name, (kind, meaning) in COLUMNS.items()}
    if options["prompt"] == "implicit":
        columns.pop("prompt")
    if not per_judgment:
        for key in PER_JUDGMENT:
            columns.pop(key)
    return columns


def is_derived(spec) -> bool:
    return spec.get("task_type", "pairwise") != "pairwise"


def pairs_for_study(rows: Iterable[AnnotationRow], ctx: ExportContext, options: dict[str, Any], counts: Counter):
    """Preference pairs of a pairwise study, or pairs derived from the scores of any other."""
    if not is_derived(ctx.spec):
        return preference_pairs(rows, options, counts)
    aspect = options["aspect"] or default_aspect(ctx.spec)
    if not aspect:
        raise FormatError(None, "options.aspect", f"name the score aspect to derive pairs from in a {ctx.spec.get('task_type')} study")
    return derived_pairs(rows, aspect, float(options["min_margin"]), counts)


@register_exporter
class TrlPreference(Exporter):
    name = "trl-preference"
    label = "TRL preference pairs (JSONL or Parquet): prompt, chosen, rejected"
    option_defaults = {
        **PREFERENCE_OPTIONS,
        "conversational": "auto",
        "prompt": "explicit",
        "separator": "auto",
        "file_format": "jsonl",
        "min_margin": 0.0,
        "aspect": "",
        **SPLIT_OPTIONS,
    }

    def parse_options(self, raw):
        options = super().parse_options(raw)
        parse_preference_options(options)
        parse_split_options(options)
        parse_file_format(options)
        if options["conversational"] not in ("auto", True, False):
            raise FormatError(None, "options.conversational", 'must be "auto", true or false')
        if options["prompt"] not in ("explicit", "implicit"):
            raise FormatError(None, "options.prompt", 'must be "explicit" (a prompt column) or "implicit" (inside chosen and rejected)')
        if not isinstance(options["separator"], str):
            raise FormatError(None, "options.separator", 'must be text, or "auto"')
        if not isinstance(options["aspect"], str):
            raise FormatError(None, "options.aspect", "must be the name of a scored aspect")
        margin = options["min_margin"]
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
            raise FormatError(None, "options.min_margin", "must be a number >= 0")
        return options

    def write(self, rows: Iterable[AnnotationRow], out_dir: Path, ctx: ExportContext) -> ExportSummary:
        options = self.parse_options(ctx.options)
        counts: Counter = Counter(pairs_written=0)
        splitter = splitter_from(options)
        conversational = options["conversational"]
        implicit = options["prompt"] == "implicit"
        with_scale = bool(ctx.spec.get("task_config", {}).get("strength_scale"))
        per_judgment = options["aggregate"] == "none" and not is_derived(ctx.spec)
        table = None
        jsonl = options["file_format"] == "jsonl"
        shared_key, shared = None, ""  # a unit's judgments often repeat one pair: encode its texts once
        encoded_texts = None
        try:
            for pair in pairs_for_study(rows, ctx, options, counts):
                row = pair.row
                if table is None:  # the first row decides "auto" (and with it the Parquet schema)
                    if conversational == "auto":
                        conversational = isinstance(row.prompt, list)
                    table = Table(out_dir, STEM, columns_for(options, conversational, per_judgment), options["file_format"], splitter)
                    encoded_texts = _EncodedTexts(conversational, implicit, options["separator"])
                split = splitter.split_of(row.prompt)
                if jsonl:  # what the judgments of a unit share with the same winner is encoded once
                    key = (row.unit_id, pair.chosen.id)
                    if key != shared_key:
                        shared_key = key
                        shared = encoded_texts.members(pair) + "," + fragment(self.pair_columns(pair))
                    table.write_fragments(shared, self.row_columns(pair, with_scale), split)
                else:
                    table.write({**self.texts(pair, conversational, implicit, options["separator"]), **self.pair_columns(pair),
                                 **self.row_columns(pair, with_scale)}, split)
                counts["pairs_written"] += 1
            if table is None:
                table = Table(out_dir, STEM, columns_for(options, conversational is True, per_judgment), options["file_format"], splitter)
        except BaseException:
            if table is not None:
                table.abort()
            raise
        files = table.close()
        notes = []
        if is_derived(ctx.spec):
            notes.append(f"Pairs are derived from the `{options['aspect'] or default_aspect(ctx.spec)}` scores: per item, every two "
                         f"candidates whose mean scores differ by at least {options['min_margin']} (and by more than 0); "
                         "margin = the difference of the means. Vote and agreement columns do not apply (null).")
        elif options["aggregate"] == "bt":
            notes.append("Pairs are oriented by Bradley–Terry scores (Davidson ties) fitted per item over all of its "
                         "judgments; only pairs that were judged are written.")
        if splitter.test_size:
            notes.append(f"Train/test split by prompt (seed {options['seed']}, test share {options['test_size']} of the "
                         "distinct prompts): no prompt appears in both splits.")
        return ExportSummary(files=files, counts=dict(counts), notes=notes)

    @staticmethod
    def texts(pair: Pair, conversational: bool, implicit: bool, separator: str) -> dict[str, Any]:
        prompt = pair.row.prompt
        texts: dict[str, Any] = {} if implicit else {"prompt": shape_prompt(prompt, conversational)}
        texts["chosen"] = shape_completion(prompt, pair.chosen.text, conversational, implicit, separator)
        texts["rejected"] = shape_completion(prompt, pair.rejected.text, conversational, implicit, separator)
        return texts

    @staticmethod
    def pair_columns(pair: Pair) -> dict[str, Any]:
        """Provenance shared by every judgment of a unit that picked the same winner."""
        return {
            "prompt_id": pair.row.item_id,
            "chosen_system": pair.chosen.system,
            "rejected_system": pair.rejected.system,
            "votes_chosen": pair.votes_chosen,
            "votes_rejected": pair.votes_rejected,
            "votes_tie": pair.votes_tie,
            "votes_both_bad": pair.votes_both_bad,
            "agreement": pair.agreement,
        }

    @staticmethod
    def row_columns(pair: Pair, with_scale: bool) -> dict[str, Any]:
        """The margin, and for a per-judgment row what is its own."""
        if not pair.per_judgment:
            return {"margin": pair.margin}
        row, chosen, rejected = pair.row, pair.chosen, pair.rejected
        shown = {chosen.id: chosen.system, rejected.id: rejected.system}
        return {
            "margin": pair.margin if with_scale else None,
            "annotator": row.annotator,
            "display_order": [shown[c] if c in shown else row.candidate(c).system for c in row.display_order],
            "strategy": row.strategy,
            "propensity": row.propensity,
        }


class _EncodedTexts:
    """The JSONL members `prompt`, `chosen` and `rejected` of a pair: what TrlPreference.texts
    gives, each text shaped and JSON-encoded once per unit (not once per winner): escaping the
    same long texts again was a third of a million-judgment export. The same bytes as
    fragment(texts(...)) (tests/unit/test_export_formats.py)."""

    def __init__(self, conversational: bool, implicit: bool, separator: str):
        self.conversational, self.implicit, self.separator = conversational, implicit, separator
        self.unit: int | None = None
        self.encoded: dict[Any, str] = {}

    def members(self, pair: Pair) -> str:
        row = pair.row
        if row.unit_id != self.unit:  # the texts of one unit: its prompt and its candidates
            self.unit, self.encoded = row.unit_id, {}
        encoded = self.encoded
        out = []
        if not self.implicit:
            prompt = encoded.get("prompt")
            if prompt is None:
                prompt = encoded["prompt"] = encode(shape_prompt(row.prompt, self.conversational))
            out.append('"prompt":' + prompt)
        for name, candidate in (('"chosen":', pair.chosen), ('"rejected":', pair.rejected)):
            text = encoded.get(candidate.id)
            if text is None:
                text = encoded[candidate.id] = encode(
                    shape_completion(row.prompt, candidate.text, self.conversational, self.implicit, self.separator))
            out.append(name + text)
        return ",".join(out)
