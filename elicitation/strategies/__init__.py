"""Elicitation strategies, registered by name. Add one: a file here with a Strategy
subclass decorated with @register, imported below."""

from elicitation.strategies.base import Choice, Context, ParamsError, Strategy, UnitView
from elicitation.strategies.registry import all_strategies, get_strategy, register

from elicitation.strategies import balanced, uniform  # noqa: E402,F401  (register themselves)
from elicitation.strategies import active_bt, crowd_bt, judge_disagreement, length_balanced  # noqa: E402,F401

__all__ = ["Choice", "Context", "ParamsError", "Strategy", "UnitView", "all_strategies", "get_strategy", "register"]
