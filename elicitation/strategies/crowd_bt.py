"""`crowd-bt`: `active-bt` with each annotator's reliability estimated and used (Crowd-BT,
Chen et al. 2013: annotator k reports the better candidate with probability eta_k and the
worse one otherwise; ties are taken as given).

In the fit: the refit estimates the scores and every eta_k together by EM
(elicitation/state.py, `fit_crowd`), so the judgments of an annotator who answers at random
hardly move the ranking, and the intervals account for how little they say.

In the choice: one judgment of annotator k carries I(eta_k) Fisher information, from 0 at
eta = 0.5 (random answers) upwards. The greedy part of k's choice goes to the informative
pairs (active-bt's plan or argmax, for a typical annotator: the median reliability) in
proportion r_k = I(eta_k) / I(median eta), capped at 1, and the rest is uniform:

    G_k(u) = r_k * G(u) + (1 - r_k) / |pool|

so informative units, which redundancy makes scarce, go to the annotators whose answers
count, and a random answerer gets random units. A new annotator gets the prior mean
reliability (0.8).

params: epsilon (0.1), level ("system" | "candidate"), criterion ("misorder" | "ranking" |
"eig" | "adjacent"), as for active-bt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from elicitation.state import RELIABILITY_PRIOR, Judgment, fisher_margin, fit_crowd
from elicitation.strategies.active_bt import CRITERIA, LEVELS, POOL_SIZE, bt_greedy, bt_unit_scores, with_tables
from elicitation.strategies.base import Context, UnitView
from elicitation.strategies.registry import register
from elicitation.strategies.scored import ScoredStrategy


def reliability_of(state: Mapping[str, Any], annotator_id: int) -> float:
    prior = state.get("reliability_prior", RELIABILITY_PRIOR[0] / sum(RELIABILITY_PRIOR))
    return float((state.get("reliability") or {}).get(annotator_id, prior))


def reference_reliability(state: Mapping[str, Any]) -> float:
    """The median annotator's reliability (stored by the refit; computed for older states)."""
    if "reference_reliability" in state:
        return float(state["reference_reliability"])
    etas = list((state.get("reliability") or {}).values())
    return float(np.median(etas)) if etas else reliability_of(state, -1)


def relative_information(state: Mapping[str, Any], annotator_id: int) -> float:
    """r_k: annotator k's information per judgment relative to a typical annotator's
    (stored per annotator by the refit; computed for states written before it was)."""
    stored = state.get("relative_information")
    if stored is not None:
        return float(stored.get(annotator_id, state["relative_information_prior"]))
    nu = float((state.get("system") or {}).get("nu", 0.0))
    ref, own = fisher_margin(np.zeros(2), nu, np.array([reference_reliability(state), reliability_of(state, annotator_id)]))
    return float(np.clip(own / ref, 0.0, 1.0)) if ref > 0 else 1.0


def _relative_informations(state: Mapping[str, Any]) -> tuple[dict[int, float], float]:
    """r_k of every annotator the fit knows, and of a new one (prior reliability)."""
    nu = float((state.get("system") or {}).get("nu", 0.0))
    annotators = list(state.get("reliability") or {})
    etas = np.array([reliability_of(state, a) for a in annotators] + [reliability_of(state, None), reference_reliability(state)])
    info = fisher_margin(np.zeros(len(etas)), nu, etas)
    r = np.clip(info[:-1] / info[-1], 0.0, 1.0) if info[-1] > 0 else np.ones(len(etas) - 1)
    return dict(zip(annotators, r[:-1].tolist(), strict=True)), float(r[-1])


@register
class CrowdBT(ScoredStrategy):
    name = "crowd-bt"
    label = "Crowd-BT: active Bradley–Terry with each annotator's reliability estimated"
    defaults = {"epsilon": 0.1, "level": "system", "criterion": "misorder"}
    choices = {"level": LEVELS, "criterion": CRITERIA}
    pool_size = POOL_SIZE

    def scores(self, ctx: Context, pool: Sequence[UnitView]) -> np.ndarray:
        params = self.params_of(ctx)
        return bt_unit_scores(ctx.state, pool, params["level"], params["criterion"], reference_reliability(ctx.state))

    def greedy(self, ctx: Context, pool: Sequence[UnitView]) -> np.ndarray:
        params = self.params_of(ctx)
        base = bt_greedy(ctx.state, pool, params["level"], params["criterion"], reference_reliability(ctx.state))
        r = relative_information(ctx.state, ctx.annotator_id)
        return r * base + (1.0 - r) / len(pool)

    def fit_state(
        self, judgments: Sequence[Judgment], params: Mapping[str, Any], previous: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        params = {**self.defaults, **params}
        state = fit_crowd(judgments, params["level"], start=(previous or {}).get("reliability"))
        state["reference_reliability"] = reference_reliability(state)
        state["relative_information"], state["relative_information_prior"] = _relative_informations(state)
        return with_tables(state, params["level"], params["criterion"], {"*": state["reference_reliability"]})
