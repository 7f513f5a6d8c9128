"""`crowd-bt`: `active-bt` with each annotator's reliability estimated and used (Crowd-BT,
Chen et al. 2013: annotator k reports the better candidate with probability eta_k and the
worse one otherwise; ties are taken as given).

The refit estimates the scores and every eta_k together by EM (elicitation/state.py,
`fit_crowd`), so judgments of an unreliable annotator weigh less in the ranking. At choice
time the information a comparison carries is computed for the annotator asking: an
annotator who answers at random (eta near 0.5) learns the model nothing whatever they
judge, so their choice is close to uniform and the informative pairs are kept for reliable
annotators. A new annotator gets the prior mean reliability.

params: epsilon (0.1), level ("system" | "candidate"), criterion ("ranking" | "eig"), as
for active-bt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from elicitation.state import RELIABILITY_PRIOR, Judgment, fit_crowd
from elicitation.strategies.active_bt import CRITERIA, LEVELS, bt_unit_scores
from elicitation.strategies.base import Context, UnitView
from elicitation.strategies.registry import register
from elicitation.strategies.scored import ScoredStrategy


def reliability_of(state: Mapping[str, Any], annotator_id: int) -> float:
    prior = state.get("reliability_prior", RELIABILITY_PRIOR[0] / sum(RELIABILITY_PRIOR))
    return float((state.get("reliability") or {}).get(annotator_id, prior))


@register
class CrowdBT(ScoredStrategy):
    name = "crowd-bt"
    label = "Crowd-BT: active Bradley–Terry with each annotator's reliability estimated"
    defaults = {"epsilon": 0.1, "level": "system", "criterion": "ranking"}
    choices = {"level": LEVELS, "criterion": CRITERIA}

    def scores(self, ctx: Context, pool: Sequence[UnitView]) -> np.ndarray:
        params = self.params_of(ctx)
        eta = reliability_of(ctx.state, ctx.annotator_id)
        return bt_unit_scores(ctx.state, pool, params["level"], params["criterion"], eta)

    def fit_state(self, judgments: Sequence[Judgment], params: Mapping[str, Any]) -> dict[str, Any]:
        return fit_crowd(judgments, {**self.defaults, **params}["level"])
