"""The task-type extension point. Pure Python: no Django here.

A task type parses its study config, decides which candidates make up a unit, validates
responses against the unit actually shown, and turns responses into the common records that
analysis and exports read (pairwise outcomes and scores).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A study config that does not fit; `field` names the offending key (dotted path)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ResponseError(ValueError):
    """A response that does not fit the task type; `errors` maps field path -> message."""

    def __init__(self, errors: Mapping[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


@dataclass(frozen=True)
class CandidateView:
    id: int
    system: str
    text: str


@dataclass(frozen=True)
class UnitContent:
    """What one annotator sees: the candidates of a unit, in display order.

    `source` is the item's prompt as text (the source segment for MT tasks; mqm source-side
    spans index into it). `meta` is the item's metadata (rubric reads per-item criteria from
    meta["rubric"]). Both default to empty, so older callers keep working.
    """

    item_id: int
    candidates: tuple[CandidateView, ...]
    source: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PairOutcome:
    """One pairwise judgment in canonical form: `a` and `b` are candidate ids, a < b.

    outcome: "a" (a preferred), "b", "tie" or "both_bad"; strength >= 1 for a win when the
    study has a strength scale, else 1.
    """

    a: int
    b: int
    outcome: str
    strength: int = 1
    aspect: str = ""


@dataclass(frozen=True)
class Score:
    """One score of one candidate on one aspect (or criterion), higher is better."""

    candidate_id: int
    aspect: str
    score: float


@dataclass(frozen=True)
class Records:
    pairs: tuple[PairOutcome, ...] = ()
    scores: tuple[Score, ...] = ()


@dataclass(frozen=True)
class AttentionCheck:
    """Show `degraded_text` in place of candidate `replace_id`; the response must pass
    `gold_passes` against `expected` (which names only the real candidates' ids)."""

    replace_id: int
    degraded_text: str
    expected: Mapping[str, Any]


def degrade_text(text: str, rng) -> str:
    """An obviously broken version of a text: its words shuffled and every other one dropped."""
    words = text.split()
    if len(words) < 4:
        return " ".join(["lorem", "ipsum", "dolor"] * 3)
    order = list(rng.permutation(len(words)))
    return " ".join(words[i] for i in order[::2])


def reject_unknown_keys(raw: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]}" if where else unknown[0],
            f"unknown key; expected one of: {', '.join(sorted(known))}",
        )


class TaskType(ABC):
    """Base class. Subclasses set `name`, `label` and implement the abstract methods."""

    name: str = ""
    label: str = ""

    @abstractmethod
    def parse_config(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a study's task_config and return it with every default filled in."""

    @abstractmethod
    def unit_candidates(self, config: Mapping[str, Any], candidate_ids: Sequence[int]) -> list[tuple[int, ...]]:
        """Which candidate groups of one item become units (e.g. every pair)."""

    @abstractmethod
    def validate_response(
        self, config: Mapping[str, Any], unit: UnitContent, response: Any
    ) -> dict[str, Any]:
        """Return the normalized response to store, or raise ResponseError naming fields."""

    @abstractmethod
    def records(self, config: Mapping[str, Any], candidate_ids: Sequence[int], response: Mapping[str, Any]) -> Records:
        """The common records (pairs and scores) a stored response stands for."""

    # Quality control. A task type that supports gold units and attention checks overrides
    # these three; the defaults say it does not, so studies refuse gold for it clearly.

    def parse_gold(self, config: Mapping[str, Any], gold: Any, systems: Mapping[str, int]) -> dict[str, Any]:
        """Turn an item's `meta.gold` (written with system names) into the expected response
        for a unit (with candidate ids), or raise ConfigError naming the field."""
        raise ConfigError("meta.gold", f"the {self.name} task type does not support gold answers")

    def gold_passes(self, config: Mapping[str, Any], expected: Mapping[str, Any], response: Mapping[str, Any]) -> bool:
        """Whether a response to a gold or attention unit matches what was expected."""
        raise NotImplementedError

    def attention_check(self, config: Mapping[str, Any], unit: UnitContent, rng) -> AttentionCheck | None:
        """An obviously degraded variant of one candidate and the response it must get, or
        None when this task type builds no attention checks."""
        return None

    def response_from_scores(self, config: Mapping[str, Any], meta: Mapping[str, Any], scores: Mapping[int, Mapping[str, float]]) -> dict[str, Any]:
        """The response whose records() give these scores (candidate id -> aspect -> score),
        to import score tables made elsewhere (scores-long); raise ConfigError naming the
        field when the scores do not fit, or when the type cannot be rebuilt from scores."""
        raise ConfigError("format", f"{self.name} judgments cannot be rebuilt from scores; import them in a format that carries them whole")

    def check_item(self, config: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        """Refuse an item this task type cannot use (raise ConfigError naming the field).
        Called at import, so a bad item is refused before anything is stored."""

    def item_widget_data(self, config: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        """Per-item data the widget needs beyond the study config (e.g. per-item criteria)."""
        return {}

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """What the browser widget needs to render (defaults to the config itself)."""
        return dict(config)
