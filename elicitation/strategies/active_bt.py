"""`active-bt`: ask for the comparison that most reduces the uncertainty of a Bradley–Terry
(with ties) model, over systems or over the candidates of each item, with exploration.

params:
- epsilon (0.1): share of uniformly random choices; every unit keeps probability >= eps/|pool|.
- level ("system"): "system" ranks systems (a unit counts as a comparison of its two
  candidates' systems); "candidate" ranks the candidates within each item.
- criterion ("ranking"): "ranking" = expected drop in the expected number of misordered
  pairs; "eig" = expected information gain about all scores (D-optimal). See
  elicitation/acquisition.py. "ranking" is the default because a ranking is what studies
  report; in simulation it needs fewer judgments than "eig" to order the systems.

The posterior is the Laplace approximation of the last refit (ctx.state, see
elicitation/state.py), the first-shown position is marginalised over (display order is
random), and a system or candidate the state has not seen yet is treated as unknown (mean
0, prior variance), so it is asked about early. With no state at all every unit scores
the same: the choice is uniform.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from elicitation.acquisition import eig, ranking_gain
from elicitation.state import ALPHA_CANDIDATE, ALPHA_SYSTEM, Judgment, fisher_margin, fit_candidates, fit_systems
from elicitation.strategies.base import Context, UnitView
from elicitation.strategies.registry import register
from elicitation.strategies.scored import ScoredStrategy

LEVELS = ("system", "candidate")
CRITERIA = ("ranking", "eig")


def _pair_of(unit: UnitView, level: str) -> tuple[Hashable, Hashable] | None:
    if len(unit.candidate_ids) != 2:
        return None
    if level == "system":
        a, b = unit.systems if len(unit.systems) == 2 else ("", "")
        return (a, b) if a and b and a != b else None
    return unit.candidate_ids[0], unit.candidate_ids[1]


def _score_pairs(
    block: Mapping[str, Any] | None,
    pairs: Sequence[tuple[Hashable, Hashable]],
    prior_var: float,
    criterion: str,
    eta: float,
) -> np.ndarray:
    """Score distinct pairs of players under one block's posterior."""
    players = list(block["players"]) if block else []
    index = {p: n for n, p in enumerate(players)}
    for a, b in pairs:
        for name in (a, b):
            if name not in index:
                index[name] = len(index)
    k, n = len(players), len(index)
    mu = np.zeros(n)
    cov = np.eye(n) * prior_var
    nu, position = 0.0, 0.0
    if block:
        mu[:k] = block["scores"]
        cov[:k, :k] = block["cov"]
        nu, position = float(block["nu"]), float(block.get("position", 0.0))
    i = np.array([index[a] for a, _ in pairs], dtype=np.int64)
    j = np.array([index[b] for _, b in pairs], dtype=np.int64)
    d = mu[i] - mu[j]
    info = 0.5 * (fisher_margin(d + position, nu, eta) + fisher_margin(d - position, nu, eta))
    if criterion == "eig":
        return eig(cov[i, i] + cov[j, j] - 2 * cov[i, j], info)
    return ranking_gain(mu, cov, i, j, info)


def bt_unit_scores(
    state: Mapping[str, Any], pool: Sequence[UnitView], level: str, criterion: str, eta: float = 1.0
) -> np.ndarray:
    """Score every unit of the pool; units that are not a pair score 0."""
    scores = np.zeros(len(pool))
    groups: dict[Hashable, list[tuple[int, tuple[Hashable, Hashable]]]] = {}
    for n, unit in enumerate(pool):
        pair = _pair_of(unit, level)
        if pair is not None:
            groups.setdefault("" if level == "system" else unit.item_id, []).append((n, pair))
    for key, members in groups.items():
        if level == "system":
            block, prior_var = state.get("system"), 1.0 / ALPHA_SYSTEM
        else:
            block, prior_var = (state.get("candidate") or {}).get(key), 1.0 / ALPHA_CANDIDATE
        canonical = [(n, (a, b) if a <= b else (b, a)) for n, (a, b) in members]
        distinct = sorted({pair for _, pair in canonical})
        value = dict(zip(distinct, _score_pairs(block, distinct, prior_var, criterion, eta), strict=True))
        for n, pair in canonical:
            scores[n] = value[pair]
    return scores


@register
class ActiveBT(ScoredStrategy):
    name = "active-bt"
    label = "Active Bradley–Terry: the most informative comparison next, with exploration"
    defaults = {"epsilon": 0.1, "level": "system", "criterion": "ranking"}
    choices = {"level": LEVELS, "criterion": CRITERIA}

    def scores(self, ctx: Context, pool: Sequence[UnitView]) -> np.ndarray:
        params = self.params_of(ctx)
        return bt_unit_scores(ctx.state, pool, params["level"], params["criterion"])

    def fit_state(self, judgments: Sequence[Judgment], params: Mapping[str, Any]) -> dict[str, Any]:
        if {**self.defaults, **params}["level"] == "candidate":
            return {"candidate": fit_candidates(judgments)}
        block = fit_systems(judgments)
        return {"system": block} if block else {}
