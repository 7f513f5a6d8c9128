"""Preference pairs out of a stream of judgments, shared by trl-preference, trl-unpaired and
rewardbench. Pure: no Django.

- aggregate "none": one pair per decisive judgment (keeps annotator, display order, propensity).
- aggregate "majority": one pair per unit whose votes have a strict winner. With ties "count",
  tie and both-bad votes compete with the two sides (a 2-1 tie-vs-A unit has no winner); with
  "ignore", only the votes for A and B are compared.
- aggregate "bt": Bradley–Terry (Davidson, with ties) fitted per item over every judgment of its
  candidates; each judged pair is oriented by the fitted scores, margin = score difference.
  With ties "ignore", tie and both-bad votes are left out of the fit.

Ties and both-bad judgments never become pairs; they are counted. `min_agreement` drops pairs
whose share of agreeing votes is lower.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from exports.formats.base import AnnotationRow, CandidateRow, FormatError

PREFERENCE_OPTIONS: Mapping[str, Any] = {"aggregate": "none", "ties": "count", "min_agreement": 0.0}
AGGREGATES = ("none", "majority", "bt")
COUNT_KEYS = ("items", "units", "judgments", "decisive", "ties", "both_bad", "no_majority", "below_min_agreement")


def parse_preference_options(options: Mapping[str, Any], aggregates: tuple[str, ...] = AGGREGATES) -> None:
    if options["aggregate"] not in aggregates:
        raise FormatError(None, "options.aggregate", f"must be one of: {', '.join(aggregates)}")
    if options["ties"] not in ("count", "ignore"):
        raise FormatError(None, "options.ties", 'must be "count" (tie votes compete with A and B) or "ignore"')
    agreement = options["min_agreement"]
    if isinstance(agreement, bool) or not isinstance(agreement, (int, float)) or not 0 <= agreement <= 1:
        raise FormatError(None, "options.min_agreement", "must be a number from 0 to 1")


@dataclass
class Pair:
    """One preference: `row` is the judgment (per-judgment pairs) or a judgment of the unit
    (aggregated pairs, whose per-judgment fields do not apply)."""

    row: AnnotationRow
    chosen: CandidateRow
    rejected: CandidateRow
    votes_chosen: int | None
    votes_rejected: int | None
    votes_tie: int | None
    votes_both_bad: int | None
    agreement: float | None
    margin: float | None
    per_judgment: bool

    @property
    def votes_total(self) -> int | None:
        if self.votes_chosen is None:
            return None
        return self.votes_chosen + self.votes_rejected + self.votes_tie + self.votes_both_bad


def _pair(row, won, lost, outcome, votes: Mapping[str, int], margin, per_judgment, by_id=None) -> Pair:
    other = "b" if outcome == "a" else "a"
    total = votes["a"] + votes["b"] + votes["tie"] + votes["both_bad"]
    chosen, rejected = (by_id[won], by_id[lost]) if by_id is not None else (row.candidate(won), row.candidate(lost))
    return Pair(row, chosen, rejected, votes[outcome], votes[other], votes["tie"], votes["both_bad"],
                round(votes[outcome] / total, 6) if total else None, margin, per_judgment)


def latest_revisions(unit_rows: list[AnnotationRow]) -> list[AnnotationRow]:
    """Each annotator's latest revision of a unit (an edit is a new revision, not a new vote)."""
    if len({r.annotator for r in unit_rows}) == len(unit_rows):
        return unit_rows
    latest: dict[str, AnnotationRow] = {}
    for row in unit_rows:
        kept = latest.get(row.annotator)
        if kept is None or (row.revision, row.annotation_id) > (kept.revision, kept.annotation_id):
            latest[row.annotator] = row
    return [r for r in unit_rows if latest[r.annotator] is r]


def _judged(unit_rows: list[AnnotationRow]):
    return [(row, pair) for row in latest_revisions(unit_rows) for pair in row.records.pairs if pair.aspect == ""]


def _majority(judged, votes: Mapping[str, int], ties: str) -> str | None:
    a, b = votes["a"], votes["b"]
    if ties == "ignore":
        return "a" if a > b else "b" if b > a else None
    others = max(votes["tie"], votes["both_bad"])
    return "a" if a > b and a > others else "b" if b > a and b > others else None


def _bt_scores(units: list[list[tuple[AnnotationRow, Any]]], ties: str) -> dict[int, float]:
    import numpy as np

    from prefstats import fit_bt

    index: dict[int, int] = {}
    i, j, y = [], [], []
    code = {"a": 1, "b": 2, "tie": 0, "both_bad": 0}
    for judged in units:
        for _, pair in judged:
            if ties == "ignore" and pair.outcome not in ("a", "b"):
                continue
            i.append(index.setdefault(pair.a, len(index)))
            j.append(index.setdefault(pair.b, len(index)))
            y.append(code[pair.outcome])
    if not y:
        return {}
    fit = fit_bt(np.array(i), np.array(j), np.array(y), len(index))
    return {cid: float(fit.scores[k]) for cid, k in index.items()}


def preference_pairs(rows: Iterable[AnnotationRow], options: Mapping[str, Any], counts: Counter) -> Iterator[Pair]:
    """Pairs from rows ordered by item then unit; `counts` gets COUNT_KEYS."""
    for key in COUNT_KEYS:
        counts.setdefault(key, 0)
    aggregate, ties, min_agreement = options["aggregate"], options["ties"], float(options["min_agreement"])

    def kept(pair: Pair) -> bool:
        if min_agreement and (pair.agreement is None or pair.agreement < min_agreement):
            counts["below_min_agreement"] += 1
            return False
        return True

    for _, item_rows in groupby(rows, key=lambda r: r.item_id):
        counts["items"] += 1
        units = []
        for _, unit_rows in groupby(item_rows, key=lambda r: r.unit_id):
            unit_rows = list(unit_rows)  # one unit's judgments: bounded by its redundancy
            judged = _judged(unit_rows)
            counts["units"] += 1
            votes = {"a": 0, "b": 0, "tie": 0, "both_bad": 0}
            for _, pair in judged:
                votes[pair.outcome] += 1
            counts["judgments"] += len(judged)
            counts["decisive"] += votes["a"] + votes["b"]
            counts["ties"] += votes["tie"]
            counts["both_bad"] += votes["both_bad"]
            if aggregate == "none":
                by_id = {c.id: c for c in unit_rows[0].candidates}  # the unit's rows share them
                for row, pair in judged:
                    if pair.outcome in ("a", "b"):
                        won, lost = (pair.a, pair.b) if pair.outcome == "a" else (pair.b, pair.a)
                        candidate = _pair(row, won, lost, pair.outcome, votes, pair.strength, True, by_id)
                        if kept(candidate):
                            yield candidate
            elif aggregate == "majority":
                if not judged:
                    continue
                top = _majority(judged, votes, ties)
                if top is None:
                    counts["no_majority"] += 1
                    continue
                pair = judged[0][1]
                won, lost = (pair.a, pair.b) if top == "a" else (pair.b, pair.a)
                candidate = _pair(unit_rows[0], won, lost, top, votes, votes[top] - votes["b" if top == "a" else "a"], False)
                if kept(candidate):
                    yield candidate
            elif judged:
                units.append(judged)
        if aggregate == "bt" and units:
            scores = _bt_scores(units, ties)
            for judged in units:
                votes = Counter(a=0, b=0, tie=0, both_bad=0)
                votes.update(pair.outcome for _, pair in judged)
                pair = judged[0][1]
                if pair.a not in scores or abs(scores[pair.a] - scores[pair.b]) < 1e-9:
                    counts["no_majority"] += 1
                    continue
                top = "a" if scores[pair.a] > scores[pair.b] else "b"
                won, lost = (pair.a, pair.b) if top == "a" else (pair.b, pair.a)
                candidate = _pair(judged[0][0], won, lost, top, votes, round(scores[won] - scores[lost], 6), False)
                if kept(candidate):
                    yield candidate


def derived_pairs(rows: Iterable[AnnotationRow], aspect: str, min_margin: float, counts: Counter) -> Iterator[Pair]:
    """Pairs of a study that scores rather than compares (likert, mqm, rubric): per item, every
    two candidates whose mean scores on `aspect` differ by at least `min_margin` (derive.py)."""
    from exports.formats.derive import derive_pairs

    for key in ("items", "judgments", "derived_pairs"):
        counts.setdefault(key, 0)
    for _, item_rows in groupby(rows, key=lambda r: r.item_id):
        item_rows = list(item_rows)  # one item's judgments: bounded by candidates x redundancy
        counts["items"] += 1
        counts["judgments"] += len(item_rows)
        for derived in derive_pairs(item_rows, aspect, min_margin):
            counts["derived_pairs"] += 1
            yield Pair(item_rows[0], derived.chosen, derived.rejected, None, None, None, None, None, derived.margin, False)


def default_aspect(spec: Mapping[str, Any]) -> str:
    """The aspect pairs are derived from when the options name none."""
    task_type, config = spec.get("task_type"), spec.get("task_config") or {}
    if task_type == "likert":
        aspects = config.get("aspects") or [{"name": "overall"}]
        return aspects[0].get("name", "overall")
    return {"mqm": "mqm", "rubric": "rubric"}.get(task_type, "")


# --- how prompts and completions are written --------------------------------------------


def as_messages(prompt: Any) -> list[dict[str, str]]:
    return prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]


def as_text(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt)


def join_implicit(prompt_text: str, completion: str, separator: str) -> str:
    """The implicit-prompt form: prompt and completion in one text. "auto" adds no separator
    when either side already has whitespace at the seam (hh-rlhf transcripts end the prompt
    with "Assistant:" and start the reply with a space) or the completion is empty, and a
    blank line otherwise."""
    if separator == "auto":
        separator = "" if (not completion or completion[:1].isspace() or prompt_text[-1:].isspace()) else "\n\n"
    return prompt_text + separator + completion


def shape_prompt(prompt: Any, conversational: bool) -> Any:
    return as_messages(prompt) if conversational else as_text(prompt)


def shape_completion(prompt: Any, text: str, conversational: bool, implicit: bool, separator: str) -> Any:
    if conversational:
        reply = [{"role": "assistant", "content": text}]
        return as_messages(prompt) + reply if implicit else reply
    return join_implicit(as_text(prompt), text, separator) if implicit else text
