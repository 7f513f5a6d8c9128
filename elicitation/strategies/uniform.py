"""`uniform`: random among the units still needed."""

from collections.abc import Sequence

import numpy as np

from elicitation.strategies.base import Choice, Context, Strategy, UnitView, choose_uniformly
from elicitation.strategies.registry import register


@register
class Uniform(Strategy):
    name = "uniform"
    label = "Uniform: random among units still needed"
    pool_order = "random"
    pool_size = 16  # any window will do: reading fewer rows keeps the lease fast

    def choose(self, ctx: Context, pool: Sequence[UnitView], rng: np.random.Generator) -> Choice:
        return choose_uniformly(pool, rng)
