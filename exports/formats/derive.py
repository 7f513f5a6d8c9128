"""Preference pairs derived from scores (Likert, MQM, rubric), for `trl-preference`.

derive_pairs(rows_of_one_item, aspect, min_margin) averages, per candidate, the scores on
one aspect over annotators (each annotator's latest revision counts once), then pairs every
two candidates whose means differ by at least `min_margin` (and by more than 0: equal means
are ties and make no pair): chosen = the higher mean, margin = the difference.

Aspects: a Likert aspect name (e.g. "overall"), "mqm" (negated penalty, so fewer / lighter
errors win), "esa", "rubric" (weighted total) or a rubric criterion id. Scores of different
aspects live on different scales, so min_margin is in the aspect's own units (e.g. 1 Likert
point, 5 MQM points = one major error, 0.25 of a rubric).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import NamedTuple

from exports.formats.base import AnnotationRow, CandidateRow


class DerivedPair(NamedTuple):
    chosen: CandidateRow
    rejected: CandidateRow
    margin: float


def mean_scores(rows: Iterable[AnnotationRow], aspect: str) -> dict[int, tuple[CandidateRow, float, int]]:
    """candidate id -> (candidate, mean score over annotators, number of annotators), for the
    candidates with at least one score on `aspect`, in order of first appearance."""
    latest: dict[tuple[int, str], tuple[tuple[int, int], float]] = {}
    candidates: dict[int, CandidateRow] = {}
    for row in rows:
        for score in row.records.scores:
            if score.aspect != aspect:
                continue
            candidates.setdefault(score.candidate_id, row.candidate(score.candidate_id))
            key = (score.candidate_id, row.annotator)
            version = (row.revision, row.annotation_id)
            if key not in latest or version >= latest[key][0]:
                latest[key] = (version, float(score.score))
    sums: dict[int, list[float]] = {}
    for (cid, _), (_, value) in latest.items():
        sums.setdefault(cid, []).append(value)
    return {cid: (cand, sum(sums[cid]) / len(sums[cid]), len(sums[cid])) for cid, cand in candidates.items()}


def derive_pairs(
    rows_of_one_item: Iterable[AnnotationRow], aspect: str, min_margin: float, *, min_annotators: int = 1
) -> list[DerivedPair]:
    """Pairs (chosen, rejected, margin) of one item's candidates, largest margin first (ties
    between margins keep the candidates' order of appearance). Candidates scored by fewer
    than `min_annotators` annotators take no part."""
    if min_margin < 0:
        raise ValueError("min_margin must be >= 0")
    means = [m for m in mean_scores(rows_of_one_item, aspect).values() if m[2] >= min_annotators]
    pairs = []
    for (cand_a, mean_a, _), (cand_b, mean_b, _) in combinations(means, 2):
        margin = round(abs(mean_a - mean_b), 10)
        if margin > 0 and margin >= min_margin:
            chosen, rejected = (cand_a, cand_b) if mean_a > mean_b else (cand_b, cand_a)
            pairs.append(DerivedPair(chosen, rejected, margin))
    pairs.sort(key=lambda p: -p.margin)  # stable: equal margins keep their order
    return pairs
