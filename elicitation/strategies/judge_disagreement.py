"""`judge-disagreement`: ask humans first where the automatic judges (metrics, reward
models) disagree most, with exploration.

Each judge's scores are put on one scale by dividing by that judge's spread over the pool
(score differences for pairs, scores for single-candidate units), so a BLEU point and a
reward-model logit count alike. For a pair, with z_j the scaled difference of judge j:

    disagreement = min(sum of z_j > 0, sum of |z_j| for z_j < 0) / number of judges

the weight of the judges on the losing side of the vote: 0 when all judges prefer the same
candidate, largest when strong judges point opposite ways. A single-candidate unit scores
the spread (standard deviation) of its judges' scaled scores. A unit of three or more
candidates scores its most disputed pair. Units with fewer than two judges in common score
0, so a study whose items carry no judge scores gets uniform choices.

params: epsilon (0.1).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from itertools import combinations

import numpy as np

from elicitation.strategies.base import Context, UnitView
from elicitation.strategies.registry import register
from elicitation.strategies.scored import ScoredStrategy


def _number(value) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return math.nan


def _scaled(values: np.ndarray, centre: bool = False) -> np.ndarray:
    """Divide each column (a judge) by its spread over the rows that have it (and
    subtract its mean when `centre`): z-scores per judge; NaN where unusable."""
    counts = np.isfinite(values).sum(axis=0)
    usable_rows = np.where(np.isfinite(values), values, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        mean = np.nanmean(usable_rows, axis=0) if centre else np.zeros(values.shape[1])
        spread = np.nanstd(usable_rows, axis=0)
    usable = (counts >= 2) & (spread > 0)
    safe_mean = np.where(usable, mean, 0.0)
    safe_spread = np.where(usable, spread, 1.0)
    return np.where(usable[None, :], (values - safe_mean[None, :]) / safe_spread[None, :], np.nan)


def _vote_split(z: np.ndarray) -> np.ndarray:
    """Row-wise: weight on the losing side of the judges' vote, per judge; 0 under two judges."""
    n = np.isfinite(z).sum(axis=1)
    pos = np.where(z > 0, z, 0.0).sum(axis=1)
    neg = np.where(z < 0, -z, 0.0).sum(axis=1)
    return np.where(n >= 2, np.minimum(pos, neg) / np.maximum(n, 1), 0.0)


def disagreement_scores(pool: Sequence[UnitView]) -> np.ndarray:
    names = sorted({name for u in pool for j in u.judges for name in j})
    out = np.zeros(len(pool))
    if not names:
        return out
    rows = [[[_number(j.get(name)) for name in names] for j in u.judges] if len(u.judges) == len(u.candidate_ids) else [] for u in pool]
    # pairs of candidates: judge-wise differences, every pair of every unit
    pair_of, diffs, singles_of, singles = [], [], [], []
    for n, cands in enumerate(rows):
        if len(cands) == 1:
            singles_of.append(n)
            singles.append(cands[0])
        for x, y in combinations(cands, 2):
            pair_of.append(n)
            diffs.append(np.subtract(x, y))
    if diffs:
        split = _vote_split(_scaled(np.array(diffs)))
        np.maximum.at(out, np.array(pair_of), split)
    if singles:
        z = _scaled(np.array(singles), centre=True)
        finite = np.isfinite(z).sum(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rows without judges
            spread = np.where(finite >= 2, np.nanstd(z, axis=1), 0.0)
        out[np.array(singles_of)] = np.nan_to_num(spread)
    return out


@register
class JudgeDisagreement(ScoredStrategy):
    name = "judge-disagreement"
    needs_judges = True
    label = "Judge disagreement: where automatic metrics and reward models disagree most, first"
    needs_state = False  # the judges' scores ride on the units themselves

    def scores(self, ctx: Context, pool: Sequence[UnitView]) -> np.ndarray:
        return disagreement_scores(pool)
