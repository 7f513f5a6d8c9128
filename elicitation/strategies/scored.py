"""A base for strategies that score every unit of the pool and take the best, exploring.

With exploration rate epsilon the choice is uniform over the pool, otherwise it follows
the strategy's greedy distribution G (by default: uniform over the top-scoring units, ties
share), so every unit keeps a positive probability and the propensity of each is exact:

    P(u) = epsilon / |pool| + (1 - epsilon) * G(u),   G(u) = [u is top] / |top|

`probabilities(ctx, pool)` returns that distribution; `choose` samples from it and logs
P(chosen). Subclasses implement `scores`, and `fit_state` when they read model state
(the refit task calls it on the study's judgments; the next-unit request passes its
result back as `ctx.state`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from elicitation.state import Judgment
from elicitation.strategies.base import Choice, Context, ParamsError, Strategy, UnitView

TIE_TOLERANCE = 1e-9  # relative: scores this close to the best count as tied for the top


def top_share(scores) -> np.ndarray:
    """Uniform over the top-scoring entries (NaN scores last; all of them when none is finite)."""
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf, posinf=np.finfo(float).max)
    best = s.max()
    if not np.isfinite(best):
        top = np.ones(len(s), dtype=bool)
    else:
        top = s >= best - TIE_TOLERANCE * max(1.0, abs(best))
    return top / top.sum()


class ScoredStrategy(Strategy):
    pool_order = "random"
    needs_candidates = True  # the service fills systems and lengths of each unit (and judges: needs_judges)
    needs_state = True  # the service reads the cached model state into ctx.state
    defaults: Mapping[str, Any] = {"epsilon": 0.1}
    choices: Mapping[str, tuple[str, ...]] = {}  # params that take one of a few names

    def parse_params(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        params = super().parse_params(raw)
        eps = params["epsilon"]
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 < eps <= 1:
            raise ParamsError("strategy.params.epsilon", "must be a number in (0, 1]: the share of uniformly random choices")
        params["epsilon"] = float(eps)
        for key, allowed in self.choices.items():
            if params[key] not in allowed:
                raise ParamsError(f"strategy.params.{key}", f"must be one of: {', '.join(allowed)}")
        return params

    def params_of(self, ctx: Context) -> dict[str, Any]:
        return {**self.defaults, **ctx.params}

    @abstractmethod
    def scores(self, ctx: Context, pool: Sequence[UnitView]) -> np.ndarray:
        """One number per unit of the pool, higher = ask sooner."""

    def fit_state(
        self, judgments: Sequence[Judgment], params: Mapping[str, Any], previous: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The model state this strategy reads, from the study's judgments (pure).
        `previous` is the last state, which a fit may start from; never required."""
        return {}

    def greedy(self, ctx: Context, pool: Sequence[UnitView]) -> np.ndarray:
        """The non-exploring part of the choice, as probabilities over the pool: by
        default uniform over the top-scoring units."""
        return top_share(self.scores(ctx, pool))

    def probabilities(self, ctx: Context, pool: Sequence[UnitView]) -> np.ndarray:
        eps = float(self.params_of(ctx)["epsilon"])
        return eps / len(pool) + (1.0 - eps) * self.greedy(ctx, pool)

    def choose(self, ctx: Context, pool: Sequence[UnitView], rng: np.random.Generator) -> Choice:
        p = self.probabilities(ctx, pool)
        index = int(rng.choice(len(pool), p=p / p.sum()))
        return Choice(pool[index].id, float(p[index]))
