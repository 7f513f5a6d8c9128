from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from annotation.task_types.base import TaskType

_REGISTRY: dict[str, TaskType] = {}


def register(cls: type[TaskType]) -> type[TaskType]:
    instance = cls()
    if not instance.name:
        raise TypeError(f"{cls.__name__} has no name")
    if instance.name in _REGISTRY:
        raise TypeError(f"task type {instance.name!r} is registered twice")
    _REGISTRY[instance.name] = instance
    return cls


def get_task_type(name: str) -> TaskType:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown task type {name!r}; registered: {', '.join(sorted(_REGISTRY))}"
        ) from None


def all_task_types() -> dict[str, TaskType]:
    return dict(_REGISTRY)
