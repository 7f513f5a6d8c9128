"""`length-balanced`: pair candidates so that length differences do not line up with
systems, so that length bias can be measured (and is not mistaken for quality).

For every pair of systems the state counts, over the units judged so far, how often each
side's candidate was the longer one (refit from the judgments, elicitation/state.py). A
unit scores 1 when it would shrink that pair's imbalance (its longer candidate comes from
the side that has been longer less often), else 0; ties are broken towards the unit whose
longer candidate comes from the system that has been the longer one less often over all
its comparisons (weight 1/4, so it never outweighs the pair balance). With no state every
unit scores the same: the choice is uniform. Exploration as in every scored strategy.

params: epsilon (0.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from elicitation.state import Judgment, length_counts
from elicitation.strategies.base import Context, UnitView
from elicitation.strategies.registry import register
from elicitation.strategies.scored import ScoredStrategy

SECONDARY = 0.25


def _longer_rates(counts: Mapping[tuple[str, str], Sequence[int]]) -> dict[str, float]:
    longer: dict[str, int] = {}
    total: dict[str, int] = {}
    for (sa, sb), (a_longer, b_longer, same) in counts.items():
        n = a_longer + b_longer + same
        longer[sa] = longer.get(sa, 0) + a_longer
        longer[sb] = longer.get(sb, 0) + b_longer
        total[sa] = total.get(sa, 0) + n
        total[sb] = total.get(sb, 0) + n
    return {s: longer[s] / total[s] for s in total if total[s]}


def length_balance_scores(state: Mapping[str, Any], pool: Sequence[UnitView]) -> np.ndarray:
    counts = state.get("length") or {}
    rates = _longer_rates(counts)
    out = np.zeros(len(pool))
    for n, unit in enumerate(pool):
        if len(unit.systems) != 2 or len(unit.lengths) != 2 or unit.lengths[0] == unit.lengths[1]:
            continue
        (sa, sb), (la, lb) = unit.systems, unit.lengths
        if sb < sa:
            sa, sb, la, lb = sb, sa, lb, la
        a_longer, b_longer, _ = counts.get((sa, sb), (0, 0, 0))
        imbalance = a_longer - b_longer
        step = 1 if la > lb else -1
        primary = 1.0 if abs(imbalance + step) < abs(imbalance) else 0.0
        longer, shorter = (sa, sb) if la > lb else (sb, sa)
        out[n] = primary + SECONDARY * (rates.get(shorter, 0.5) - rates.get(longer, 0.5))
    return out


@register
class LengthBalanced(ScoredStrategy):
    name = "length-balanced"
    label = "Length-balanced: length differences that do not line up with systems"

    def scores(self, ctx: Context, pool: Sequence[UnitView]) -> np.ndarray:
        return length_balance_scores(ctx.state, pool)

    def fit_state(
        self, judgments: Sequence[Judgment], params: Mapping[str, Any], previous: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return {"length": length_counts(judgments)}
