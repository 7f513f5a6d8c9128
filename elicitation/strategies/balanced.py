"""`balanced`: fewest judgments first (coverage); random among the least-judged."""

from collections.abc import Sequence

import numpy as np

from elicitation.strategies.base import Choice, Context, Strategy, UnitView, choose_uniformly
from elicitation.strategies.registry import register


@register
class Balanced(Strategy):
    name = "balanced"
    label = "Balanced: fewest judgments first"
    pool_order = "fewest"
    pool_size = 16  # any window will do: reading fewer rows keeps the lease fast

    def choose(self, ctx: Context, pool: Sequence[UnitView], rng: np.random.Generator) -> Choice:
        fewest = min(u.n_taken for u in pool)
        return choose_uniformly([u for u in pool if u.n_taken == fewest], rng)
