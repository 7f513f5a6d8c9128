"""Task types, registered by name. Add one: a file here with a TaskType subclass
decorated with @register, imported below. Studies store the name, so no migration."""

from annotation.task_types.base import (
    CandidateView,
    ConfigError,
    PairOutcome,
    Records,
    ResponseError,
    Score,
    TaskType,
    UnitContent,
)
from annotation.task_types.registry import all_task_types, get_task_type, register

from annotation.task_types import pairwise  # noqa: E402,F401  (registers itself)
from annotation.task_types import likert, mqm, rubric  # noqa: E402,F401  (register themselves)

__all__ = [
    "CandidateView",
    "ConfigError",
    "PairOutcome",
    "Records",
    "ResponseError",
    "Score",
    "TaskType",
    "UnitContent",
    "all_task_types",
    "get_task_type",
    "register",
]
