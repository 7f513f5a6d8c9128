"""The strategy extension point. Pure: no Django, no I/O, randomness from the caller.

The assignment service offers a strategy a *pool*: units that still need judgments and that
this annotator has never held, fetched by an index range scan in the order the strategy asks
for (`pool_order`). The strategy returns one unit and the probability with which it chose it
(the propensity), which is logged so that estimates can be reweighted later.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np


class ParamsError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnitView(NamedTuple):
    """One unit of the pool as a strategy sees it. A named tuple, not a dataclass: the
    service builds up to 200 of them per next-unit request, and a tuple is built in C."""

    id: int
    item_id: int
    candidate_ids: tuple[int, ...]
    systems: tuple[str, ...]
    lengths: tuple[int, ...]  # characters of each candidate's text
    n_taken: int  # judgments submitted + leases held
    judges: tuple[Mapping[str, float], ...] = ()  # per candidate: judge name -> score


@dataclass(frozen=True)
class Context:
    annotator_id: int
    redundancy: int
    params: Mapping[str, Any]
    state: Mapping[str, Any] = field(default_factory=dict)  # cached model state from the last refit


@dataclass(frozen=True)
class Choice:
    unit_id: int
    propensity: float


class Strategy(ABC):
    name: str = ""
    label: str = ""
    pool_order: str = "random"  # "random" (uniform window) or "fewest" (fewest judgments first)
    pool_size: int = 200  # units offered per request: a strategy that compares them wants many
    needs_judges: bool = False  # with needs_candidates: the service also reads the candidates' judge scores
    defaults: Mapping[str, Any] = {}

    def parse_params(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise ParamsError("strategy.params", "must be an object")
        unknown = sorted(set(raw) - set(self.defaults))
        if unknown:
            expected = ", ".join(sorted(self.defaults)) or "none"
            raise ParamsError(f"strategy.params.{unknown[0]}", f"unknown parameter; expected: {expected}")
        return {**self.defaults, **raw}

    @abstractmethod
    def choose(self, ctx: Context, pool: Sequence[UnitView], rng: np.random.Generator) -> Choice:
        """Pick one unit of a non-empty pool."""


def choose_uniformly(pool: Sequence[UnitView], rng: np.random.Generator) -> Choice:
    index = int(rng.integers(len(pool)))
    return Choice(pool[index].id, 1.0 / len(pool))
