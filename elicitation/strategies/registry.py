from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elicitation.strategies.base import Strategy

_REGISTRY: dict[str, Strategy] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    instance = cls()
    if not instance.name or instance.name in _REGISTRY:
        raise TypeError(f"strategy {cls.__name__} has no name or a name already taken")
    _REGISTRY[instance.name] = instance
    return cls


def get_strategy(name: str) -> Strategy:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None


def all_strategies() -> dict[str, Strategy]:
    return dict(_REGISTRY)
